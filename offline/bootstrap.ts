import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { cliConfig, onRegistration, queuedEvaluation, TEST_PROJECT } from "./harness";
import { TYPES } from "./resourceTypes";

// Internal to @pulumi/pulumi but stable for years: drains pending registrations so a run is complete.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

/*
 * A mock run of the bootstrap program (bootstrap/index.ts), for its tests and the policy pack's. harness.ts runs
 * the platform program from the repository root with its own project name, so it is not reused here.
 * Every run sets its own mocks and the whole config, like the harness does: nothing carries over to or from
 * other evaluations in the same process.
 */
export const BOOTSTRAP_DIR = path.resolve(__dirname, "..", "bootstrap");
export const projectFile = parse(fs.readFileSync(path.join(BOOTSTRAP_DIR, "Pulumi.yaml"), "utf8"));
export const PROJECT_NAME: string = projectFile.name;
export const PROJECT_NUMBER = "123456789012";
export const REPOSITORY = "acme/streaming-platform";
export const REPOSITORY_ID = "123456789";
export const OWNER_ID = "4242";

export interface Registered {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom: boolean;
    readonly inputs: Record<string, any>;
    readonly protect: boolean;
    readonly parent?: string;
    readonly retainOnDelete: boolean;
    readonly dependsOn: readonly string[];
}

export interface BootstrapRun {
    readonly resources: readonly Registered[];
    readonly outputs: Record<string, unknown>;
    readonly error?: Error;
}

export type Overrides = Record<string, string | string[] | undefined>;

/** Config as the CLI hands it over: Pulumi.yaml defaults, a project and a repository, then overrides. */
function bootstrapConfig(overrides: Overrides): Record<string, string> {
    return cliConfig(
        projectFile,
        [
            {
                "gcp:project": TEST_PROJECT,
                [`${PROJECT_NAME}:githubRepository`]: REPOSITORY,
                [`${PROJECT_NAME}:githubRepositoryId`]: REPOSITORY_ID,
                [`${PROJECT_NAME}:githubOwnerId`]: OWNER_ID,
            },
        ],
        overrides,
    );
}

/** What Google Cloud would report back that the program reads: names, ids, emails. */
function computed(type: string, name: string, inputs: Record<string, any>): { id: string; state: Record<string, unknown> } {
    switch (type) {
        case TYPES.serviceAccount: {
            const email = `${inputs.accountId}@${inputs.project}.iam.gserviceaccount.com`;
            return { id: name, state: { email, member: `serviceAccount:${email}`, name: `projects/${inputs.project}/serviceAccounts/${email}` } };
        }
        case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
            return {
                id: name,
                state: { name: `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${inputs.workloadIdentityPoolId}` },
            };
        case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
            return {
                id: name,
                state: {
                    name: `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${inputs.workloadIdentityPoolId}/providers/${inputs.workloadIdentityPoolProviderId}`,
                },
            };
        case "gcp:kms/keyRing:KeyRing":
            return { id: `projects/${inputs.project}/locations/${inputs.location}/keyRings/${inputs.name}`, state: {} };
        case "gcp:kms/cryptoKey:CryptoKey":
            return { id: `${inputs.keyRing}/cryptoKeys/${inputs.name}`, state: {} };
        case TYPES.repository:
            return {
                id: `projects/${inputs.project}/locations/${inputs.location}/repositories/${inputs.repositoryId}`,
                state: { name: inputs.repositoryId },
            };
        case "gcp:storage/bucket:Bucket":
            return { id: inputs.name, state: { url: `gs://${inputs.name}` } };
        default:
            return { id: `${name}-id`, state: {} };
    }
}

/** The bootstrap program evaluated under mocks, as the harness evaluates the platform's: in its queue, index.ts afresh. */
export const runBootstrap = (overrides: Overrides = {}): Promise<BootstrapRun> => queuedEvaluation(() => evaluateBootstrap(overrides));

async function evaluateBootstrap(overrides: Overrides): Promise<BootstrapRun> {
    const resources: Registered[] = [];
    const failures: Error[] = [];
    const recordFailure = (reason: unknown) => failures.push(reason instanceof Error ? reason : new Error(String(reason)));
    process.on("unhandledRejection", recordFailure);
    pulumi.runtime.setAllConfig(bootstrapConfig(overrides), []);
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                const { id, state } = computed(args.type, args.name, args.inputs);
                return { id: args.custom ? id : undefined, state: { name: args.inputs.name ?? args.name, ...args.inputs, ...state } };
            },
            call: (args) => (args.token === "gcp:organizations/getProject:getProject" ? { ...args.inputs, number: PROJECT_NUMBER } : args.inputs),
        },
        PROJECT_NAME,
        "ci",
        false,
    );

    onRegistration(
        (req, res) =>
            resources.push({
                type: req.getType(),
                name: req.getName(),
                urn: res.getUrn(),
                custom: req.getCustom(),
                inputs: req.getObject()?.toJavaScript() ?? {},
                protect: req.getProtect() === true,
                parent: req.getParent() || undefined,
                retainOnDelete: req.getRetainondelete() === true,
                dependsOn: req.getDependenciesList(),
            }),
        recordFailure,
    );

    // Only the composition root loads afresh: bootstrap/config.ts and roles.ts, like the platform's modules, keep no state.
    const program = path.join(BOOTSTRAP_DIR, "index.ts");
    delete require.cache[program];
    let exported: Record<string, unknown> = {};
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program must run anew on every evaluation
        exported = require(program);
    } catch (e) {
        recordFailure(e);
    }
    const outputs: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(exported)) {
        outputs[key] = await (pulumi.output(value) as any).promise();
    }
    await settings.waitForRPCs();
    await new Promise((resolve) => setImmediate(resolve));
    process.off("unhandledRejection", recordFailure);
    return { resources, outputs, error: failures[0] };
}
