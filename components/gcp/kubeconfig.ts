import { stringify } from "yaml";

export interface ExecKubeconfigArgs {
    /** Name of the kubeconfig's cluster, user and context entries (the GKE cluster's name); also current-context. */
    readonly contextName: string;
    /** https URL of the control plane. */
    readonly server: string;
    /** Base64 CA bundle; omit for the DNS endpoint, which serves a publicly trusted certificate. */
    readonly certificateAuthorityData?: string;
}

/**
 * A kubeconfig that holds no credential: every call gets a short-lived token from
 * gke-gcloud-auth-plugin, so the file is safe in state and expires nothing.
 */
export function execKubeconfig(args: ExecKubeconfigArgs): string {
    const cluster: Record<string, string> = { server: args.server };
    if (args.certificateAuthorityData) {
        cluster["certificate-authority-data"] = args.certificateAuthorityData;
    }
    return stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: args.contextName, cluster }],
        users: [
            {
                name: args.contextName,
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "gke-gcloud-auth-plugin",
                        installHint: "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
                        provideClusterInfo: true,
                        interactiveMode: "Never",
                    },
                },
            },
        ],
        contexts: [{ name: args.contextName, context: { cluster: args.contextName, user: args.contextName } }],
        "current-context": args.contextName,
    });
}
