import { spawnSync } from "child_process";

/** Whether a command runs and exits 0 within the time allowed; a missing command does not. */
function succeeds(command: string, args: readonly string[]): boolean {
    return spawnSync(command, args, { stdio: "ignore", timeout: 20_000 }).status === 0;
}

/**
 * What `pulumi up` will call on this machine that the configuration asks for, checked before any resource
 * exists, so a missing tool is named now and not deep inside an update: the Docker engine that builds
 * the pipeline's images, and the plugin the Kubernetes provider gets GKE tokens from (gcp/kubeconfig.ts).
 */
export function missingTools(needs: {
    readonly dockerEngine: boolean;
    readonly gkeAuthPlugin: boolean;
}): [key: string, value: string, allowed: string][] {
    const problems: [string, string, string][] = [];
    if (needs.dockerEngine && !succeeds("docker", ["info", "--format", "{{.ServerVersion}}"])) {
        problems.push([
            "buildImages",
            "true",
            "false, or a running Docker engine for the image builds (`docker info` failed here); start Docker, or `pulumi config set buildImages false` to install the pipeline's dependencies when pods start",
        ]);
    }
    if (needs.gkeAuthPlugin && !succeeds("gke-gcloud-auth-plugin", ["--version"])) {
        problems.push([
            "clusterTarget",
            "gke",
            "gke with gke-gcloud-auth-plugin on the PATH (`gcloud components install gke-gcloud-auth-plugin`), which the Kubernetes provider gets its tokens from",
        ]);
    }
    return problems;
}
