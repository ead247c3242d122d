import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { NODE_SERVICE_ACCOUNT_ROLES } from "../components/gcp";
import { DEPLOYER_PROJECT_ROLES } from "../bootstrap/roles";
import { cliConfig, onRegistration, TEST_PROJECT } from "../offline/harness";
import { TYPES } from "../offline/resourceTypes";

// Internal to @pulumi/pulumi but stable for years: drains pending registrations so a run is complete.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

/*
 * A small, self-contained mock run of the bootstrap program (bootstrap/index.ts). test/harness.ts runs
 * the platform program from the repository root with its own project name, so it is not reused here.
 * Every run sets its own mocks and the whole config, like the harness does, and the suite clears
 * the config when done: nothing carries over to or from the other test files in the same process.
 */
const BOOTSTRAP_DIR = path.resolve(__dirname, "..", "bootstrap");
const projectFile = parse(fs.readFileSync(path.join(BOOTSTRAP_DIR, "Pulumi.yaml"), "utf8"));
const PROJECT_NAME: string = projectFile.name;
const PROJECT_NUMBER = "123456789012";
const REPOSITORY = "acme/streaming-platform";

const T = {
    service: TYPES.projectService,
    bucket: "gcp:storage/bucket:Bucket",
    bucketIam: "gcp:storage/bucketIAMMember:BucketIAMMember",
    keyRing: "gcp:kms/keyRing:KeyRing",
    cryptoKey: "gcp:kms/cryptoKey:CryptoKey",
    cryptoKeyIam: "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    pool: "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
    provider: "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
    account: TYPES.serviceAccount,
    accountIam: "gcp:serviceaccount/iAMMember:IAMMember",
    projectIam: TYPES.projectIamMember,
};

interface Registered {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom: boolean;
    readonly inputs: Record<string, any>;
    readonly protect: boolean;
    readonly dependsOn: readonly string[];
}

interface BootstrapRun {
    readonly resources: readonly Registered[];
    readonly outputs: Record<string, unknown>;
    readonly error?: Error;
}

type Overrides = Record<string, string | string[] | undefined>;

/** Config as the CLI hands it over: Pulumi.yaml defaults, a project and a repository, then overrides. */
function bootstrapConfig(overrides: Overrides): Record<string, string> {
    return cliConfig(projectFile, [{ "gcp:project": TEST_PROJECT, [`${PROJECT_NAME}:githubRepository`]: REPOSITORY }], overrides);
}

/** What Google Cloud would report back that the program reads: names, ids, emails. */
function computed(type: string, name: string, inputs: Record<string, any>): { id: string; state: Record<string, unknown> } {
    switch (type) {
        case T.account: {
            const email = `${inputs.accountId}@${inputs.project}.iam.gserviceaccount.com`;
            return { id: name, state: { email, member: `serviceAccount:${email}`, name: `projects/${inputs.project}/serviceAccounts/${email}` } };
        }
        case T.pool:
            return {
                id: name,
                state: { name: `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${inputs.workloadIdentityPoolId}` },
            };
        case T.provider:
            return {
                id: name,
                state: {
                    name: `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/${inputs.workloadIdentityPoolId}/providers/${inputs.workloadIdentityPoolProviderId}`,
                },
            };
        case T.keyRing:
            return { id: `projects/${inputs.project}/locations/${inputs.location}/keyRings/${inputs.name}`, state: {} };
        case T.cryptoKey:
            return { id: `${inputs.keyRing}/cryptoKeys/${inputs.name}`, state: {} };
        case T.bucket:
            return { id: inputs.name, state: { url: `gs://${inputs.name}` } };
        default:
            return { id: `${name}-id`, state: {} };
    }
}

async function runBootstrap(overrides: Overrides = {}): Promise<BootstrapRun> {
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
            call: (args) => args.inputs,
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
                dependsOn: req.getDependenciesList(),
            }),
        recordFailure,
    );

    Object.keys(require.cache)
        .filter((file) => file.startsWith(BOOTSTRAP_DIR + path.sep))
        .forEach((file) => delete require.cache[file]);
    let exported: Record<string, unknown> = {};
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program must run anew on every evaluation
        exported = require(path.join(BOOTSTRAP_DIR, "index.ts"));
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

const ofType = (run: BootstrapRun, type: string) => run.resources.filter((r) => r.type === type);
function single(run: BootstrapRun, type: string): Registered {
    const found = ofType(run, type);
    assert.equal(found.length, 1, `expected exactly one ${type}, found ${found.length}`);
    return found[0];
}

/** Runs a configuration that must be refused: no resource may be registered. */
async function refused(overrides: Overrides): Promise<string> {
    const run = await runBootstrap(overrides);
    assert.ok(run.error, `the program accepted ${JSON.stringify(overrides)}`);
    assert.equal(run.error.name, "ConfigError", run.error.stack);
    assert.equal(run.resources.length, 0, "resources were registered before the configuration was validated");
    return run.error.message;
}

describe("bootstrap program", () => {
    let run: BootstrapRun;
    const deployerEmail = `streaming-platform-deployer@${TEST_PROJECT}.iam.gserviceaccount.com`;
    before(async () => {
        run = await runBootstrap();
        assert.equal(run.error, undefined, run.error?.stack);
    });
    after(() => pulumi.runtime.setAllConfig({}, []));

    it("is run from bootstrap/ with its own entry point, never the platform's index.ts", () => {
        // Without bootstrap/package.json Pulumi walks up to the repository's package.json ("main": "index.ts").
        const pkg = JSON.parse(fs.readFileSync(path.join(BOOTSTRAP_DIR, "package.json"), "utf8"));
        assert.equal(pkg.main, "index.ts");
        assert.equal(pkg.dependencies, undefined, "dependencies come from the repository's node_modules");
        assert.equal(PROJECT_NAME, "streaming-platform-bootstrap");
        assert.equal(projectFile.config.githubRepository.default, undefined, "githubRepository must be required");
    });

    it("enables the APIs CI needs and never disables them on destroy", () => {
        const services = ofType(run, T.service);
        assert.deepEqual(
            services.map((s) => s.inputs.service).sort(),
            ["artifactregistry", "cloudkms", "cloudresourcemanager", "compute", "container", "iam", "iamcredentials", "storage", "sts"].map(
                (api) => `${api}.googleapis.com`,
            ),
        );
        for (const service of services) {
            assert.equal(service.inputs.disableOnDestroy, false, service.inputs.service);
            assert.equal(service.inputs.project, TEST_PROJECT);
        }
    });

    it("registers every other resource after the APIs it needs", () => {
        const apiUrns = ofType(run, T.service).map((s) => s.urn);
        for (const type of [T.bucket, T.keyRing, T.cryptoKey, T.pool, T.provider, T.account, T.projectIam]) {
            for (const resource of ofType(run, type)) {
                assert.deepEqual(
                    apiUrns.filter((urn) => !resource.dependsOn.includes(urn)),
                    [],
                    `${resource.name} does not wait for the APIs`,
                );
            }
        }
    });

    it("keeps state in a protected, private, versioned bucket with bounded history", () => {
        const bucket = single(run, T.bucket);
        assert.equal(bucket.protect, true, "the state bucket must be protected");
        assert.equal(bucket.inputs.name, `${TEST_PROJECT}-pulumi-state`);
        assert.equal(bucket.inputs.location, "us-central1");
        assert.equal(bucket.inputs.uniformBucketLevelAccess, true);
        assert.equal(bucket.inputs.publicAccessPrevention, "enforced");
        assert.deepEqual(bucket.inputs.versioning, { enabled: true });
        assert.equal(bucket.inputs.forceDestroy, false);
        const pruning = bucket.inputs.lifecycleRules.filter((rule: any) => rule.action.type === "Delete");
        assert.equal(pruning.length, 1);
        assert.equal(pruning[0].condition.withState, "ARCHIVED", "only noncurrent versions may be pruned");
        assert.ok(pruning[0].condition.numNewerVersions >= 1, "a bounded number of noncurrent versions is kept");
        assert.deepEqual(Object.keys(pruning[0].condition).sort(), ["numNewerVersions", "withState"], "nothing else deletes state");
    });

    it("puts the KMS key for Pulumi secrets in gcp:region, rotated and protected", () => {
        const ring = single(run, T.keyRing);
        const key = single(run, T.cryptoKey);
        assert.equal(ring.protect, true);
        assert.equal(key.protect, true);
        assert.equal(ring.inputs.location, "us-central1");
        assert.equal(key.inputs.keyRing, `projects/${TEST_PROJECT}/locations/us-central1/keyRings/${ring.inputs.name}`);
        assert.equal(key.inputs.purpose, "ENCRYPT_DECRYPT");
        assert.match(key.inputs.rotationPeriod, /^\d+s$/);
        assert.ok(parseInt(key.inputs.rotationPeriod, 10) <= 365 * 86400, "rotated at least yearly");
    });

    it("trusts GitHub's OIDC issuer for exactly the configured repository", () => {
        const provider = single(run, T.provider);
        assert.equal(provider.inputs.oidc.issuerUri, "https://token.actions.githubusercontent.com");
        assert.equal(provider.inputs.workloadIdentityPoolId, single(run, T.pool).inputs.workloadIdentityPoolId);
        assert.equal(provider.inputs.attributeCondition, `assertion.repository == '${REPOSITORY}'`);
        const mapping = provider.inputs.attributeMapping;
        assert.equal(mapping["google.subject"], "assertion.sub");
        for (const claim of ["repository", "repository_owner", "ref"]) {
            assert.equal(mapping[`attribute.${claim}`], `assertion.${claim}`);
        }
    });

    it("lets only that repository's workflows impersonate the deployer", () => {
        const binding = single(run, T.accountIam);
        const account = single(run, T.account);
        assert.equal(binding.inputs.role, "roles/iam.workloadIdentityUser");
        assert.equal(binding.inputs.serviceAccountId, `projects/${TEST_PROJECT}/serviceAccounts/${deployerEmail}`);
        assert.equal(
            binding.inputs.member,
            `principalSet://iam.googleapis.com/projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/` +
                `${single(run, T.pool).inputs.workloadIdentityPoolId}/attribute.repository/${REPOSITORY}`,
        );
        assert.equal(account.inputs.project, TEST_PROJECT);
    });

    it("grants state access on the bucket and secrets access on the key, never on the project", () => {
        const bucketGrant = single(run, T.bucketIam);
        assert.equal(bucketGrant.inputs.bucket, single(run, T.bucket).inputs.name);
        assert.equal(bucketGrant.inputs.role, "roles/storage.objectAdmin");
        assert.equal(bucketGrant.inputs.member, `serviceAccount:${deployerEmail}`);
        const keyGrant = single(run, T.cryptoKeyIam);
        assert.equal(
            keyGrant.inputs.cryptoKeyId,
            `projects/${TEST_PROJECT}/locations/us-central1/keyRings/pulumi/cryptoKeys/${single(run, T.cryptoKey).inputs.name}`,
        );
        assert.equal(keyGrant.inputs.role, "roles/cloudkms.cryptoKeyEncrypterDecrypter");
        assert.equal(keyGrant.inputs.member, `serviceAccount:${deployerEmail}`);
        const projectRoles = ofType(run, T.projectIam).map((b) => b.inputs.role);
        assert.deepEqual(
            projectRoles.filter((role) => /^roles\/(storage|cloudkms)\./.test(role)),
            [],
        );
    });

    it("gives the deployer the least set of project roles and no basic role", () => {
        const bindings = ofType(run, T.projectIam);
        assert.deepEqual(bindings.map((b) => b.inputs.role).sort(), [...DEPLOYER_PROJECT_ROLES].sort());
        for (const binding of bindings) {
            assert.equal(binding.inputs.member, `serviceAccount:${deployerEmail}`);
            assert.equal(binding.inputs.project, TEST_PROJECT);
            assert.ok(!["roles/owner", "roles/editor"].includes(binding.inputs.role), binding.inputs.role);
        }
        // Every IAM grant of the program goes to the deployer or the GitHub principalSet, nobody else.
        const members = run.resources.filter((r) => r.type.includes("IAMMember")).map((r) => r.inputs.member);
        assert.ok(
            members.every((m) => m === `serviceAccount:${deployerEmail}` || m.startsWith("principalSet://")),
            members.join(", "),
        );
    });

    it("lets the deployer grant and revoke only the node service account's roles", () => {
        const iamAdmin = ofType(run, T.projectIam).find((b) => b.inputs.role === "roles/resourcemanager.projectIamAdmin");
        assert.ok(iamAdmin, "projectIamAdmin is needed to bind the node service account's roles");
        const expression: string = iamAdmin.inputs.condition?.expression ?? "";
        const granted = /^api\.getAttribute\('iam\.googleapis\.com\/modifiedGrantsByRole', \[\]\)\.hasOnly\(\[(.*)\]\)$/.exec(expression);
        assert.ok(granted, `unexpected condition: ${expression}`);
        assert.deepEqual(
            granted[1].split(", ").map((role) => role.replace(/'/g, "")),
            [...NODE_SERVICE_ACCOUNT_ROLES],
        );
        for (const binding of ofType(run, T.projectIam).filter((b) => b !== iamAdmin)) {
            assert.equal(binding.inputs.condition, undefined, binding.inputs.role);
        }
    });

    it("exports exactly what the workflows read as repository variables", () => {
        assert.deepEqual(Object.keys(run.outputs).sort(), [
            "deployerServiceAccount",
            "gcpProject",
            "secretsProvider",
            "stateBackendUrl",
            "workloadIdentityProvider",
        ]);
        assert.equal(run.outputs.stateBackendUrl, `gs://${TEST_PROJECT}-pulumi-state`);
        assert.equal(
            run.outputs.secretsProvider,
            `gcpkms://projects/${TEST_PROJECT}/locations/us-central1/keyRings/pulumi/cryptoKeys/pulumi-secrets`,
        );
        assert.match(
            String(run.outputs.workloadIdentityProvider),
            /^projects\/\d+\/locations\/global\/workloadIdentityPools\/[a-z0-9-]{4,32}\/providers\/[a-z0-9-]{4,32}$/,
        );
        assert.equal(run.outputs.deployerServiceAccount, deployerEmail);
        assert.equal(run.outputs.gcpProject, TEST_PROJECT);
        // What .github/scripts/pulumi-ci-stack.sh accepts.
        assert.match(String(run.outputs.stateBackendUrl), /^gs:\/\/.+/);
        assert.match(String(run.outputs.secretsProvider), /^gcpkms:\/\/.+/);
    });

    it("follows the configured repository, bucket name and location", async () => {
        const other = await runBootstrap({
            githubRepository: "Other-Org/data.platform_2",
            stateBucketName: "acme-tfstate",
            stateBucketLocation: "EU",
        });
        assert.equal(other.error, undefined, other.error?.stack);
        assert.equal(single(other, T.provider).inputs.attributeCondition, "assertion.repository == 'Other-Org/data.platform_2'");
        assert.match(single(other, T.accountIam).inputs.member, /\/attribute\.repository\/Other-Org\/data\.platform_2$/);
        assert.equal(single(other, T.bucket).inputs.location, "EU");
        assert.equal(other.outputs.stateBackendUrl, "gs://acme-tfstate");
    });

    it("takes a replacement set of deployer roles", async () => {
        const other = await runBootstrap({ deployerRoles: ["roles/container.admin", "roles/compute.networkAdmin"] });
        assert.equal(other.error, undefined, other.error?.stack);
        assert.deepEqual(
            ofType(other, T.projectIam).map((b) => b.inputs.role),
            ["roles/container.admin", "roles/compute.networkAdmin"],
        );
    });

    describe("refuses, before registering anything,", () => {
        for (const value of [
            "acme",
            "acme/",
            "/streaming-platform",
            "acme/streaming-platform/extra",
            "https://github.com/acme/streaming-platform",
            "acme/*",
            "-acme/streaming-platform",
            "acme/..",
            "acme/x' || true || 'y",
        ]) {
            it(`githubRepository ${JSON.stringify(value)}`, async () => {
                const message = await refused({ githubRepository: value });
                assert.ok(
                    message.includes(`${PROJECT_NAME}:githubRepository = ${JSON.stringify(value)}: a GitHub repository as owner/name`),
                    message,
                );
            });
        }

        it("a missing githubRepository", async () => {
            const message = await refused({ githubRepository: undefined });
            assert.match(message, /streaming-platform-bootstrap:githubRepository = \(not set\): a GitHub repository as owner\/name/);
        });

        it("a missing gcp:project, with every other problem in the same message", async () => {
            const message = await refused({ "gcp:project": undefined, githubRepository: "nope" });
            assert.match(message, /2 problems/);
            assert.match(message, /gcp:project = \(not set\): a project id .*pulumi config set gcp:project/);
        });

        it("a basic or project-wide storage role in deployerRoles", async () => {
            const message = await refused({ deployerRoles: ["roles/container.admin", "roles/owner", "roles/storage.admin"] });
            assert.match(message, /deployerRoles = "roles\/owner": a role other than this one: basic roles/);
            assert.match(
                message,
                /deployerRoles = "roles\/storage.admin": a role other than this one: storage and KMS roles are granted on the state bucket/,
            );
        });

        it("a malformed bucket name or location", async () => {
            const message = await refused({ stateBucketName: "Acme_State!", stateBucketLocation: "moon" });
            assert.match(message, /stateBucketName = "Acme_State!": a bucket name of 3-63/);
            assert.match(message, /stateBucketLocation = "moon": a region/);
        });
    });
});
