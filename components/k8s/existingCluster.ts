import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";

export interface ExistingClusterArgs {
    /** kubeconfig context to deploy into (config `kubeContext`); empty or undefined means the current context. */
    readonly context?: pulumi.Input<string>;
}

/** A cluster someone else runs (kind, minikube, Docker Desktop), reached through the local kubeconfig. */
export class ExistingCluster extends pulumi.ComponentResource {
    readonly provider: k8s.Provider;

    constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:k8s:ExistingCluster", name, {}, opts);
        this.provider = new k8s.Provider(
            `${name}-k8s`,
            {
                context: pulumi.output(args.context).apply((context) => context || undefined),
            },
            { parent: this },
        );
        this.registerOutputs({ context: args.context });
    }
}
