import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import { fixedNamespace, fixedSecret, generatedPassword } from "../k8s/kubernetesObjects";
import { serviceValues, UiEndpoint, uiEndpoint, UiExposureArgs } from "./uiEndpoint";

export interface SparkArgs {
    readonly namespace: string;
    readonly workers: number;
    /** More than workers turns on the CPU autoscaler up to this many. */
    readonly maxWorkers: number;
    /** Cores and memory each worker offers to executors. */
    readonly workerCores: number;
    readonly workerMemoryGiB: number;
    readonly uiExposure: UiExposureArgs;
    readonly imageRegistry: pulumi.Input<string>;
}

const SECRETS = "spark-secrets";
/** Room for the worker daemon's own JVM next to its executors. */
const WORKER_DAEMON_GIB = 1;

/** A standalone Spark master with workers sized for executors, RPC authenticated with a generated secret. */
export class Spark extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly masterUrl: string;
    readonly ui: UiEndpoint;
    /** Secret (in the Spark namespace) and key holding the RPC authentication secret drivers must present. */
    readonly rpcSecretName = SECRETS;
    readonly rpcSecretKey = "rpc-authentication-secret";
    readonly rpcSecret: pulumi.Output<string>;

    constructor(name: string, args: SparkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Spark", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        this.rpcSecret = generatedPassword(`${name}-rpc-secret`, this);
        const secret = fixedSecret(SECRETS, this.namespace, { [this.rpcSecretKey]: this.rpcSecret }, this);

        const podMemory = `${args.workerMemoryGiB + WORKER_DAEMON_GIB}Gi`;
        this.release = bitnamiRelease({
            chart: "spark",
            namespace: this.namespace.metadata.name,
            imageRegistry: args.imageRegistry,
            timeoutSeconds: 600,
            values: {
                security: { passwordsSecretName: SECRETS },
                worker: {
                    replicaCount: args.workers,
                    // Without these Spark sizes executors from the node, not the pod, and they get OOM-killed.
                    coreLimit: args.workerCores,
                    memoryLimit: `${args.workerMemoryGiB}g`,
                    // Half a core requested per executor core and no CPU limit: micro-batches are bursty.
                    resources: { requests: { cpu: `${args.workerCores * 500}m`, memory: podMemory }, limits: { memory: podMemory } },
                    autoscaling: args.maxWorkers > args.workers
                        ? { enabled: true, minReplicas: args.workers, maxReplicas: args.maxWorkers, targetCPU: 70 }
                        : { enabled: false },
                },
                service: serviceValues(args.uiExposure),
            },
        }, { parent: this, dependsOn: [secret] });

        this.masterUrl = `spark://spark-master-svc.${args.namespace}.svc.cluster.local:7077`;
        this.ui = uiEndpoint("spark-master-svc", args.namespace, 80, 8081, args.uiExposure);
        this.registerOutputs({ masterUrl: this.masterUrl, ui: this.ui });
    }
}
