import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { containerResources, RESTRICTED_CONTAINER } from "../k8s/kubernetesObjects";
import { driverMemory, jvmMemory, quantityMiB } from "../data/sparkMemory";
import { contentHash, FileSet } from "./assets";
import { PodSet } from "../k8s/networkIsolation";
import { ScrapeTarget } from "../k8s/monitoring";
import { podScheduling, PoolLayout } from "../k8s/placement";
import { EVENT_LOG_MOUNT, GCS_CONNECTOR_JAR, gcsConnectorFetch } from "../data/sparkHistory";

/** Job code shipped by ConfigMap when no image was built: the pod installs what it needs at start. */
export interface MountedJobCode {
    /** pipeline/spark files plus requirements-spark.txt, mounted as a ConfigMap at /opt/pipeline. */
    readonly files: FileSet;
    /** spark-submit --packages list (Maven coordinates) for the Kafka connector, fetched at start. */
    readonly packages: string;
}

export interface StreamingJobArgs {
    /** Namespace of the driver: Spark's, where the workers' NetworkPolicy admits it. */
    readonly namespace: pulumi.Input<string>;
    /** The Spark job image (by digest when built) or the plain Spark image when `code` is mounted. */
    readonly image: pulumi.Input<string>;
    /** Job code to mount when no image was built (config `buildImages` false); undefined when the image carries it. */
    readonly code?: MountedJobCode;
    /** Plain driver environment: Kafka and PostgreSQL clients, master URL, TRIGGER_INTERVAL (config `streamTriggerInterval`). */
    readonly environment: Record<string, pulumi.Input<string>>;
    /** Driver environment handed over by Secret: the Kafka and PostgreSQL passwords and Spark's RPC secret. */
    readonly secretEnvironment: Record<string, pulumi.Input<string>>;
    /** Size of the checkpoint volume, in Gi; at least 10Gi for a regional disk (config `streamCheckpointStorage`). */
    readonly checkpointStorage: string;
    /** StorageClass of the checkpoint volume, regional PD on a regional cluster; undefined: the cluster's default class. */
    readonly checkpointStorageClass?: pulumi.Input<string>;
    /** CPU request of the driver pod, such as 250m (config `streamDriverCpu`). */
    readonly cpu: string;
    /** The driver pod's memory request and limit, in Mi or Gi (config `streamDriverMemory`); the driver JVM's heap is sized to fit in it. */
    readonly memory: string;
    /**
     * What each executor takes: exactly what a worker offers, all its cores (SPARK_WORKER_CORES) and its memory less
     * JVM overhead as heap in MiB (from config `sparkWorkerCores` and `sparkWorkerMemoryGiB`, via Spark's memory plan).
     */
    readonly executor: { readonly cores: number; readonly memoryMiB: number };
    /** spark.blockManager.port of driver and executors; the workers' NetworkPolicy admits it. */
    readonly blockManagerPort: number;
    /** Extra pod labels, such as those the Spark workers' NetworkPolicy admits. */
    readonly podLabels?: Readonly<Record<string, string>>;
    /** Node pools to place the driver on: the on-demand pool, as a preempted driver stops the stream (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
    /** ConfigMaps mounted read-only into the driver, such as the CA certificates its clients verify servers against. */
    readonly configFiles?: readonly { readonly name: string; readonly configMap: pulumi.Input<string>; readonly mountPath: string }[];
    /** Where the driver writes Spark event logs for the History Server (components/data/sparkHistory.ts); absent: none. */
    readonly eventLog?: {
        /** spark.eventLog.dir: gs://<log bucket>/spark-events, or file:/spark-events on the claim below. */
        readonly dir: pulumi.Input<string>;
        /** The claim shared with the History Server, mounted at /spark-events (stacks without Cloud Storage). */
        readonly claimName?: pulumi.Input<string>;
        /** Fetch the GCS connector at start and put it on the driver's classpath (gs:// directory). */
        readonly gcsConnector: boolean;
        /** The Google service account allowed to write the log bucket, bound to DRIVER_SERVICE_ACCOUNT by Workload Identity. */
        readonly gcpServiceAccount?: pulumi.Input<string>;
    };
}

/** The driver's Kubernetes service account when it writes event logs to Cloud Storage (Workload Identity). */
export const DRIVER_SERVICE_ACCOUNT = "crypto-ticks-stream";

const NAME = "crypto-ticks-stream";
const CODE_DIR = "/opt/pipeline";
const CHECKPOINT_DIR = "/checkpoint";
/**
 * Where a driver without a built image keeps what it downloads at start: on the checkpoint's claim, beside (not in)
 * the checkpoint, so that a replacement driver (a crash, the e2e's kill, a rescheduled pod) finds it and needs neither
 * PyPI nor Maven Central. Not a claim of its own: a second disk would be zonal where the checkpoint is a regional disk
 * and would pin the driver to one zone, and it would be one more volume to attach and delete for a few dozen MiB.
 * INSTALL_CACHE/<key>/python holds the pip install, INSTALL_CACHE/<key>/ivy Spark's Ivy cache (run-job.sh
 * SPARK_IVY_DIR), <key> a digest of the requirements and the Maven coordinates: a change of either starts afresh,
 * and the install script removes every other key's folder, so the cache never holds more than one set.
 */
const INSTALL_CACHE = `${CHECKPOINT_DIR}/install-cache`;
/**
 * Installs the sink's Python requirements once per key: into a folder beside the final one, renamed into place only
 * when pip succeeded, so a driver killed mid-install leaves nothing a later one would take for complete. Ivy needs no
 * such step: with a static revision in its cache, spark-submit --packages resolves the module and its jars from the
 * cache without a request (apache/ant-ivy BasicResolver.getDependency reads the cache first, and ChainResolver's later
 * resolvers return a revision an earlier one found, shouldReturnResolvedModule), and a failed download leaves no entry.
 */
const INSTALL_SCRIPT = `set -euo pipefail
key_dir="$INSTALL_CACHE/$INSTALL_KEY"
if [[ ! -d "$key_dir/python" ]]; then
  mkdir -p "$key_dir"
  rm -rf "$key_dir/python.partial"
  python3 -m pip install --no-cache-dir --target "$key_dir/python.partial" -r "${CODE_DIR}/requirements-spark.txt"
  mv "$key_dir/python.partial" "$key_dir/python"
else
  echo "requirements already installed in $key_dir/python"
fi
find "$INSTALL_CACHE" -mindepth 1 -maxdepth 1 ! -name "$INSTALL_KEY" -exec rm -rf {} +`;
const DRIVER_PORT = 7078;
/** Where pipeline/spark/job_metrics.py serves the job's Prometheus metrics (JOB_METRICS_PORT), at /metrics. */
const METRICS_PORT = 9108;
/**
 * The driver is Ready only while its streaming query is active: job_metrics.py answers /ready with 200 then and 503
 * before the query starts or after it ends (stream_ticks.main hands it query.isActive). A probe of the port alone
 * would pass from the moment the metrics server starts, before Spark has connected to anything.
 */
const READINESS_PROBE: k8s.types.input.core.v1.Probe = {
    httpGet: { path: "/ready", port: "metrics" },
    periodSeconds: 10,
    failureThreshold: 3,
};
/**
 * The container runs under the image's ENTRYPOINT, /opt/bitnami/scripts/spark/entrypoint.sh, which writes an
 * nss_wrapper passwd entry for the non-root uid, exports LD_PRELOAD and then execs its arguments
 * (bitnami/containers bitnami/spark/4.1/debian-12/rootfs/opt/bitnami/scripts/spark/entrypoint.sh, the same in
 * 3.5 and 4.0). Replacing it with `command` leaves uid 1001 without a user name and Hadoop's
 * UserGroupInformation login fails with "invalid null input: name" (bitnami/containers#52654): so only
 * `args` (the image's CMD) are set. bash because a ConfigMap-mounted script is not executable.
 */
const RUN_JOB = ["bash", `${CODE_DIR}/run-job.sh`];

/** The cache folder's key: what the driver downloads at start, the requirements and the Maven coordinates. */
export function installKey(code: MountedJobCode): string {
    return contentHash({ "requirements-spark.txt": code.files["requirements-spark.txt"] ?? "", packages: code.packages });
}

/**
 * The Spark Structured Streaming driver as a one-replica Deployment: spark-submit in client mode
 * against the standalone master, executors on the workers connect back to the pod IP on fixed
 * ports, and progress is checkpointed on a volume so a restart resumes where it stopped.
 */
export class StreamingJob extends pulumi.ComponentResource {
    readonly deployment: k8s.apps.v1.Deployment;
    /** The driver's pod, which executors connect back to on its driver and block manager ports. */
    readonly driverPods: PodSet;
    readonly driverPorts: readonly number[];
    /** The driver's Prometheus metrics (crypto_ticks_*): container port name, number and path. */
    readonly metrics: ScrapeTarget;
    readonly checkpoint: k8s.core.v1.PersistentVolumeClaim;

    constructor(name: string, args: StreamingJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:pipeline:StreamingJob", name, {}, opts);
        const metadata = (suffix: string) => ({ name: `${NAME}${suffix}`, namespace: args.namespace });

        const secret = new k8s.core.v1.Secret(
            `${name}-env`,
            {
                metadata: metadata("-env"),
                type: "Opaque",
                stringData: args.secretEnvironment,
            },
            { parent: this },
        );
        // A claim's class cannot change: a claim of another class gets another name, so Pulumi creates it, rolls
        // the driver onto it and only then deletes the old one (a same-named claim would be deleted first and
        // hang on its pvc-protection finalizer while the old driver still mounts it).
        const claimSuffix =
            args.checkpointStorageClass === undefined
                ? pulumi.output("-checkpoint")
                : pulumi.output(args.checkpointStorageClass).apply((storageClass) => `-checkpoint-${storageClass}`);
        this.checkpoint = new k8s.core.v1.PersistentVolumeClaim(
            `${name}-checkpoint`,
            {
                metadata: { name: pulumi.interpolate`${NAME}${claimSuffix}`, namespace: args.namespace },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    storageClassName: args.checkpointStorageClass,
                    resources: { requests: { storage: args.checkpointStorage } },
                },
            },
            { parent: this },
        );
        const code =
            args.code &&
            new k8s.core.v1.ConfigMap(
                `${name}-code`,
                {
                    metadata: metadata("-code"),
                    data: args.code.files,
                },
                { parent: this },
            );

        const volumes: k8s.types.input.core.v1.Volume[] = [
            { name: "checkpoint", persistentVolumeClaim: { claimName: this.checkpoint.metadata.name } },
            { name: "tmp", emptyDir: {} },
        ];
        const mounts: k8s.types.input.core.v1.VolumeMount[] = [
            { name: "checkpoint", mountPath: CHECKPOINT_DIR },
            { name: "tmp", mountPath: "/tmp" },
        ];
        for (const file of args.configFiles ?? []) {
            volumes.push({ name: file.name, configMap: { name: file.configMap, defaultMode: 0o444 } });
            mounts.push({ name: file.name, mountPath: file.mountPath, readOnly: true });
        }
        const codeEnv: k8s.types.input.core.v1.EnvVar[] = [];
        const initContainers: k8s.types.input.core.v1.Container[] = [];
        if (code && args.code) {
            volumes.push({ name: "code", configMap: { name: code.metadata.name } });
            mounts.push({ name: "code", mountPath: CODE_DIR, readOnly: true });
            const key = installKey(args.code);
            codeEnv.push(
                { name: "SPARK_PACKAGES", value: args.code.packages },
                { name: "SPARK_IVY_DIR", value: `${INSTALL_CACHE}/${key}/ivy` },
                { name: "PYTHONPATH", value: `${INSTALL_CACHE}/${key}/python` },
            );
            // The plain Spark image lacks the sink's driver library: installed once into the cache on the claim.
            initContainers.push({
                name: "install-python-deps",
                image: args.image,
                // Under the image's entrypoint as well, like the driver: args only.
                args: ["bash", "-c", INSTALL_SCRIPT],
                env: [
                    { name: "INSTALL_CACHE", value: INSTALL_CACHE },
                    { name: "INSTALL_KEY", value: key },
                ],
                volumeMounts: mounts,
                resources: containerResources("100m", "256Mi"),
                securityContext: RESTRICTED_CONTAINER,
            });
        }

        // Event logs, which the Spark History Server rebuilds the driver's UI from once the pod is gone.
        const eventLogEnv: k8s.types.input.core.v1.EnvVar[] = [];
        if (args.eventLog) {
            eventLogEnv.push({ name: "EVENT_LOG_DIR", value: args.eventLog.dir });
            if (args.eventLog.claimName) {
                volumes.push({ name: "events", persistentVolumeClaim: { claimName: args.eventLog.claimName } });
                mounts.push({ name: "events", mountPath: EVENT_LOG_MOUNT });
            }
            if (args.eventLog.gcsConnector) {
                const connector = gcsConnectorFetch(args.image);
                volumes.push(connector.volume);
                mounts.push(connector.mount);
                initContainers.push(connector.initContainer);
                eventLogEnv.push({ name: "EVENT_LOG_CLASSPATH", value: GCS_CONNECTOR_JAR });
            }
        }
        const serviceAccount = args.eventLog?.gcpServiceAccount
            ? new k8s.core.v1.ServiceAccount(
                  `${name}-service-account`,
                  {
                      metadata: {
                          ...metadata(""),
                          name: DRIVER_SERVICE_ACCOUNT,
                          annotations: { "iam.gke.io/gcp-service-account": args.eventLog.gcpServiceAccount },
                      },
                      automountServiceAccountToken: false,
                  },
                  { parent: this },
              )
            : undefined;

        const driver = driverMemory(quantityMiB(args.memory));
        const labels = { ...args.podLabels, app: NAME };
        this.driverPods = { namespace: args.namespace, labels: { app: NAME } };
        this.driverPorts = [DRIVER_PORT, args.blockManagerPort];
        this.metrics = {
            name: NAME,
            pods: this.driverPods,
            portName: "metrics",
            port: METRICS_PORT,
            path: "/metrics",
            why: "the streaming job's crypto_ticks_* metrics",
        };
        this.deployment = new k8s.apps.v1.Deployment(
            name,
            {
                metadata: { ...metadata(""), labels: { app: NAME } },
                spec: {
                    replicas: 1,
                    // Two drivers would fight over the checkpoint: stop the old one before starting the new.
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: { app: NAME } },
                    template: {
                        metadata: {
                            labels,
                            annotations: { "streaming-platform/code": args.code ? contentHash(args.code.files) : "image" },
                        },
                        spec: {
                            securityContext: { runAsNonRoot: true, runAsUser: 1001, fsGroup: 1001, seccompProfile: { type: "RuntimeDefault" } },
                            // The driver calls no Kubernetes API: no token to steal. Its Google identity (event logs on
                            // Cloud Storage) comes from the GKE metadata server by the service account's name alone.
                            automountServiceAccountToken: false,
                            ...(serviceAccount ? { serviceAccountName: serviceAccount.metadata.name } : {}),
                            ...podScheduling("on-demand", args.pools),
                            initContainers,
                            containers: [
                                {
                                    name: "driver",
                                    image: args.image,
                                    args: RUN_JOB,
                                    env: [
                                        { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                                        { name: "SPARK_DRIVER_PORT", value: String(DRIVER_PORT) },
                                        { name: "SPARK_BLOCKMANAGER_PORT", value: String(args.blockManagerPort) },
                                        // run-job.sh hands these to spark-submit (components/data/sparkMemory.ts).
                                        { name: "SPARK_DRIVER_MEMORY", value: jvmMemory(driver.heapMiB) },
                                        { name: "SPARK_EXECUTOR_MEMORY", value: jvmMemory(args.executor.memoryMiB) },
                                        { name: "SPARK_EXECUTOR_CORES", value: String(args.executor.cores) },
                                        { name: "CHECKPOINT_DIR", value: `${CHECKPOINT_DIR}/crypto-ticks` },
                                        { name: "JOB_METRICS_PORT", value: String(METRICS_PORT) },
                                        ...eventLogEnv,
                                        ...codeEnv,
                                        ...Object.entries(args.environment).map(([envName, value]) => ({ name: envName, value })),
                                    ],
                                    envFrom: [{ secretRef: { name: secret.metadata.name } }],
                                    ports: [
                                        { name: "driver", containerPort: DRIVER_PORT },
                                        { name: "block-manager", containerPort: args.blockManagerPort },
                                        { name: "ui", containerPort: 4040 },
                                        { name: "metrics", containerPort: METRICS_PORT },
                                    ],
                                    readinessProbe: READINESS_PROBE,
                                    resources: containerResources(args.cpu, args.memory),
                                    securityContext: RESTRICTED_CONTAINER,
                                    volumeMounts: mounts,
                                },
                            ],
                            volumes,
                        },
                    },
                },
            },
            { parent: this },
        );
        this.registerOutputs({ deployment: this.deployment.metadata.name, checkpoint: this.checkpoint.metadata.name });
    }
}
