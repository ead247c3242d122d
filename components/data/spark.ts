import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import { fixedNamespace, fixedSecret, generatedPassword } from "../k8s/kubernetesObjects";
import { UiArgs, UiEndpoint, uiEndpoint, UiExposureArgs, uiLoadBalancer } from "./uiEndpoint";
import { jvmMemory, sparkClusterMemory, SparkClusterMemory } from "./sparkMemory";
import { bitnamiPods, PodSet } from "../k8s/networkIsolation";
import { ScrapeTarget } from "../k8s/monitoring";
import { chartScheduling, PoolLayout } from "../k8s/placement";

export interface SparkArgs {
    /** Namespace created for Spark; the streaming job's driver runs there too. */
    readonly namespace: string;
    /** Worker replicas, and the autoscaler's minimum (config `sparkWorkers`). */
    readonly workers: number;
    /** More than workers turns on the CPU autoscaler up to this many (config `sparkMaxWorkers`, whose 0 means workers). */
    readonly maxWorkers: number;
    /** Cores each worker offers to executors, SPARK_WORKER_CORES (config `sparkWorkerCores`). */
    readonly workerCores: number;
    /** Memory each worker offers to executors, in GiB; its pod gets 1 GiB more for the daemon (config `sparkWorkerMemoryGiB`). */
    readonly workerMemoryGiB: number;
    /** How the master's web UI, which has no login, is reached (config `uiExposure`, `uiSourceRanges`). */
    readonly uiExposure: UiExposureArgs;
    /** Registry of the Bitnami images (config `imageRegistry`, or the Docker Hub mirror with `dockerHubMirror`). */
    readonly imageRegistry: pulumi.Input<string>;
    /** Node pools to place the pods on: the master on-demand, workers preferring Spot (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

const SECRETS = "spark-secrets";
/**
 * Port of every block manager of an application, the executors' on the workers included: executors take
 * spark.blockManager.port from the driver's conf (pipeline/spark/run-job.sh sets it).
 */
const BLOCK_MANAGER_PORT = 7079;
/** Pods with this label (in the Spark namespace) may fetch blocks from executors: drivers. */
const CLIENT_LABELS: Readonly<Record<string, string>> = { "streaming-platform/spark-client": "true" };
/** How the chart labels its worker pods for release name = chart name (bitnami/common labels.matchLabels). */
const WORKER_POD_LABELS = { "app.kubernetes.io/name": "spark", "app.kubernetes.io/instance": "spark", "app.kubernetes.io/component": "worker" };

/** A standalone Spark master with workers sized for executors, RPC authenticated with a generated secret. */
export class Spark extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly masterUrl: string;
    /** The master's pods (RPC on masterPort) and the workers' pods, where executors run. */
    readonly masterPods: PodSet;
    readonly workerPods: PodSet;
    /** Master and workers serve Spark's PrometheusServlet on their web UI port "http" (helm-values/spark.yaml metrics). */
    readonly metrics: ScrapeTarget;
    readonly masterPort = 7077;
    /** The master's web UI port, in its pod. */
    readonly uiPort = 8080;
    readonly ui: UiEndpoint;
    /** Secret (in the Spark namespace) and key holding the RPC authentication secret drivers must present. */
    readonly rpcSecretName = SECRETS;
    readonly rpcSecretKey = "rpc-authentication-secret";
    readonly rpcSecret: pulumi.Output<string>;
    /** Heaps of master, worker daemon and executors, and the executor size every worker offers. */
    readonly memory: SparkClusterMemory;
    /** The port executors' block managers listen on; drivers must use it too (spark.blockManager.port). */
    readonly blockManagerPort = BLOCK_MANAGER_PORT;
    /** Labels a driver pod needs so the worker NetworkPolicy lets it reach executors' block managers. */
    readonly clientPodLabels = CLIENT_LABELS;

    constructor(name: string, args: SparkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Spark", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        this.masterPods = bitnamiPods(this.namespace.metadata.name, "spark", "master");
        this.workerPods = bitnamiPods(this.namespace.metadata.name, "spark", "worker");
        this.metrics = {
            name: "spark",
            pods: bitnamiPods(this.namespace.metadata.name, "spark"),
            portName: "http",
            port: 8080,
            path: "/metrics/",
            why: "Spark's master and workers",
        };
        this.rpcSecret = generatedPassword(`${name}-rpc-secret`, this);
        const secret = fixedSecret(SECRETS, this.namespace, { [this.rpcSecretKey]: this.rpcSecret }, this);

        this.memory = sparkClusterMemory(args.workerCores, args.workerMemoryGiB);
        const { master, worker } = this.memory;
        // Whole GiB: the offer is whole GiB and the daemon's room is 1 GiB.
        const podMemory = `${worker.podMiB / 1024}Gi`;
        this.release = bitnamiRelease(
            {
                chart: "spark",
                namespace: this.namespace.metadata.name,
                imageRegistry: args.imageRegistry,
                timeoutSeconds: 600,
                values: {
                    security: { passwordsSecretName: SECRETS },
                    master: {
                        // SPARK_DAEMON_MEMORY; empty, the daemon takes a 1g heap (components/data/sparkMemory.ts).
                        daemonMemoryLimit: jvmMemory(master.heapMiB),
                        resources: { requests: { cpu: "100m", memory: `${master.podMiB}Mi` }, limits: { memory: `${master.podMiB}Mi` } },
                        // The streaming driver's application lives on the master: a preempted master ends it.
                        ...chartScheduling("on-demand", args.pools),
                    },
                    worker: {
                        replicaCount: args.workers,
                        // SPARK_WORKER_CORES / SPARK_WORKER_MEMORY (templates/statefulset-worker.yaml). Without them Spark
                        // sizes executors from the node, not the pod, and they get OOM-killed.
                        coreLimit: worker.offeredCores,
                        memoryLimit: `${args.workerMemoryGiB}g`,
                        daemonMemoryLimit: jvmMemory(worker.daemon.heapMiB),
                        // Half a core requested per executor core and no CPU limit: micro-batches are bursty.
                        resources: { requests: { cpu: `${args.workerCores * 500}m`, memory: podMemory }, limits: { memory: podMemory } },
                        // Stateless executors: a preemption costs a recomputed micro-batch, not data.
                        ...chartScheduling("spot", args.pools),
                        autoscaling:
                            args.maxWorkers > args.workers
                                ? { enabled: true, minReplicas: args.workers, maxReplicas: args.maxWorkers, targetCPU: 70 }
                                : { enabled: false },
                        // The chart admits only the worker's cluster and web UI ports; drivers and other executors
                        // also fetch blocks from an executor's block manager (templates/networkpolicy-worker.yaml).
                        networkPolicy: {
                            extraIngress: [
                                {
                                    ports: [{ port: BLOCK_MANAGER_PORT, protocol: "TCP" }],
                                    from: [{ podSelector: { matchLabels: CLIENT_LABELS } }, { podSelector: { matchLabels: WORKER_POD_LABELS } }],
                                },
                            ],
                        },
                    },
                },
            },
            { parent: this, dependsOn: [secret] },
        );

        this.masterUrl = `spark://spark-master-svc.${args.namespace}.svc.cluster.local:${this.masterPort}`;
        const ui: UiArgs = {
            service: "spark-master-svc",
            namespace: args.namespace,
            servicePort: 80,
            localPort: 8081,
            podLabels: { "app.kubernetes.io/name": "spark", "app.kubernetes.io/instance": "spark", "app.kubernetes.io/component": "master" },
            containerPort: "http",
            exposure: args.uiExposure,
        };
        // The Spark UI has no login: its source ranges are its only gate.
        uiLoadBalancer("spark-master-ui", ui, this.namespace.metadata.name, this);
        this.ui = uiEndpoint(ui);
        this.registerOutputs({ masterUrl: this.masterUrl, ui: this.ui });
    }
}
