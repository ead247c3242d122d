/**
 * The stack's own repository of Bitnami images and charts (components/gcp/bitnamiImages.ts), as `npm run
 * images:mirror -- --stack <stack>` and `npm run charts:pull -- --stack <stack> --push` address it: derived from
 * the stack's configuration (Pulumi.<stack>.yaml over Pulumi.yaml's defaults) as the program derives it, so
 * nobody composes the address by hand. Also what to run once to create it before the stack pulls from it.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { artifactRegistryAddress, BITNAMI_REPOSITORY, bitnamiRepositoryId } from "../../components/gcp/dockerRepository";

const ROOT = path.resolve(__dirname, "..", "..");

export interface StackRepository {
    readonly stack: string;
    readonly project: string;
    readonly region: string;
    readonly projectSetup: string;
    /** <region>-docker.pkg.dev/<project>/bitnami-<stack>: the image registry the stack pulls from. */
    readonly address: string;
    /** Where the stack pulls from instead, when its config names another source (imageRegistry, dockerHubMirror). */
    readonly pullsElsewhere?: string;
}

/** The stack's effective config: Pulumi.yaml's defaults, then Pulumi.<stack>.yaml; keys as the CLI spells them. */
function stackConfig(stack: string, root: string): Record<string, unknown> {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!/^[A-Za-z0-9_.-]+$/.test(stack) || !fs.existsSync(file)) {
        const stacks = fs
            .readdirSync(root)
            .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
            .filter(Boolean);
        throw new Error(`--stack ${JSON.stringify(stack)}: no Pulumi.${stack}.yaml; one of ${stacks.join(", ")}`);
    }
    const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));
    const config: Record<string, unknown> = {};
    for (const [key, declared] of Object.entries<any>(project.config ?? {})) {
        config[key.includes(":") ? key : `${project.name}:${key}`] = key.includes(":") ? declared : declared?.default;
    }
    return { ...config, ...(parse(fs.readFileSync(file, "utf8"))?.config ?? {}) };
}

/** The stack's repository, or an error naming the setting to fix. */
export function stackRepository(stack: string, root = ROOT): StackRepository {
    const config = stackConfig(stack, root);
    const key = (name: string) => config[`streaming-platform:${name}`];
    if (key("clusterTarget") === "kubeconfig") {
        throw new Error(
            `--stack ${stack}: a kubeconfig stack has no Artifact Registry repository (it pulls from docker.io); --stack takes a GKE stack`,
        );
    }
    const project = config["gcp:project"];
    if (typeof project !== "string" || project === "") {
        throw new Error(`--stack ${stack}: gcp:project is not set in Pulumi.${stack}.yaml; pulumi config set gcp:project <id> -s ${stack}`);
    }
    const region = String(config["gcp:region"]);
    const imageRegistry = String(key("imageRegistry") ?? "");
    return {
        stack,
        project,
        region,
        projectSetup: String(key("projectSetup")),
        address: artifactRegistryAddress(region, project, bitnamiRepositoryId(stack)),
        pullsElsewhere:
            imageRegistry !== "" ? `imageRegistry ${imageRegistry}` : String(key("dockerHubMirror")) === "true" ? "dockerHubMirror" : undefined,
    };
}

const PROJECT = "streaming-platform";
const urn = (stack: string, types: string[], name: string) => `urn:pulumi:${stack}::${PROJECT}::${types.join("$")}::${name}`;

/**
 * What `pulumi up --target` must name to create the repository alone: it, its component, and what it waits for
 * (the Artifact Registry API and its component). Pulumi refuses a targeted create whose parent or dependency is
 * neither there nor targeted (pulumi/pulumi#5869, #14531).
 */
export function repositoryTargets(stack: string): string[] {
    const apis = "streaming-platform:gcp:ProjectApis";
    const images = "streaming-platform:gcp:BitnamiImages";
    return [
        urn(stack, [apis], "apis"),
        urn(stack, [apis, "gcp:projects/service:Service"], "apis-artifactregistry"),
        urn(stack, [images], BITNAMI_REPOSITORY),
        urn(stack, [images, "gcp:artifactregistry/repository:Repository"], BITNAMI_REPOSITORY),
    ];
}

/**
 * The commands that create the repository before anything pulls from it. The program refuses a stack on its own
 * repository while the lock lacks a digest, so until the images are there the stack names Docker Hub.
 */
export function creationSteps(repository: StackRepository): string[] {
    const { stack } = repository;
    if (repository.projectSetup === "bootstrap") {
        return [`(cd bootstrap && pulumi up)   # bootstrap/ creates ${bitnamiRepositoryId(stack)} for every stack it lists`];
    }
    return [
        `pulumi config set imageRegistry docker.io -s ${stack}   # only until the repository is filled`,
        `pulumi up -s ${stack} ${repositoryTargets(stack)
            .map((target) => `--target '${target}'`)
            .join(" ")}`,
    ];
}
