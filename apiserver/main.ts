/**
 * `npm run apiserver`: a real Kubernetes API server on loopback to try the charts and manifests against,
 * until SIGINT or SIGTERM. The kubeconfig goes to $KUBECONFIG_OUT (default
 * ~/.cache/streaming-platform/apiserver/kubeconfig); ports move with APISERVER_PORT, ETCD_CLIENT_PORT,
 * ETCD_PEER_PORT and CONTROLLER_MANAGER_PORT.
 */
import * as os from "os";
import * as path from "path";
import { build, ControlPlane, StartFailure } from "./controlPlane";

export const DEFAULT_KUBECONFIG = path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"),
    "streaming-platform",
    "apiserver",
    "kubeconfig",
);

async function main(): Promise<void> {
    const kubeconfigPath = path.resolve(process.env.KUBECONFIG_OUT ?? DEFAULT_KUBECONFIG);
    const plane = new ControlPlane(build(), { kubeconfigPath });
    let stopping = false;
    const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`apiserver: ${signal}: stopping`);
        await plane.stop();
        console.log("apiserver: stopped");
        process.exit(0);
    };
    // Registered before the start, so a signal during it still stops what has started.
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGTERM", () => void stop("SIGTERM"));
    await plane.start((line) => console.log(`apiserver: ${line}`));
    console.log(`apiserver: ready at ${plane.server}; kubeconfig ${kubeconfigPath}`);
    console.log(`apiserver: try it: KUBECONFIG=${kubeconfigPath} kubectl get namespaces; stop with Ctrl-C`);
}

main().catch((error) => {
    console.error(`apiserver: ${error instanceof StartFailure ? error.message : (error?.stack ?? error)}`);
    process.exit(1);
});
