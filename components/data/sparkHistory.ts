import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { containerResources, RESTRICTED_CONTAINER, restrictedPodSecurity } from "../k8s/kubernetesObjects";
import { podScheduling, PoolLayout } from "../k8s/placement";

/**
 * The Cloud Storage connector for Hadoop, shaded (its Google libraries relocated, so they cannot clash with
 * Spark's): the `gs://` file system the driver writes event logs with and the History Server reads them with.
 * Spark 4.0 ships Hadoop 3.4's client; the 3.0 line of the connector is the one built for Hadoop 3.3+ and
 * Java 11+ (GoogleCloudDataproc/hadoop-connectors). Its Maven coordinates carry the `shaded` classifier,
 * which neither `spark-submit --packages` nor pipeline/images/spark-job/fetch_jars.py (group:artifact:version)
 * accepts: so the pods that need it fetch it at start (gcsConnectorFetch), checked against the .sha1 Maven
 * Central publishes next to it, as fetch_jars.py checks the baked jars.
 */
export const GCS_CONNECTOR = {
    group: "com.google.cloud.bigdataoss",
    artifact: "gcs-connector",
    version: "3.0.4",
    classifier: "shaded",
} as const;
export const MAVEN_CENTRAL = "https://repo1.maven.org/maven2";
export const GCS_CONNECTOR_URL = `${MAVEN_CENTRAL}/${GCS_CONNECTOR.group.replace(/\./g, "/")}/${GCS_CONNECTOR.artifact}/${GCS_CONNECTOR.version}/${GCS_CONNECTOR.artifact}-${GCS_CONNECTOR.version}-${GCS_CONNECTOR.classifier}.jar`;
/** Where the fetched connector is, in the pods that need it (an emptyDir). */
export const GCS_CONNECTOR_DIR = "/opt/gcs-connector";
export const GCS_CONNECTOR_JAR = `${GCS_CONNECTOR_DIR}/gcs-connector.jar`;
const FETCH_SCRIPT = [
    "import hashlib, sys, urllib.request as r",
    "url, dest = sys.argv[1], sys.argv[2]",
    "jar = r.urlopen(url, timeout=300).read()",
    "want = r.urlopen(url + '.sha1', timeout=60).read().decode().split()[0].lower()",
    "got = hashlib.sha1(jar).hexdigest()",
    "sys.exit(f'{url}: sha1 {got} does not match published {want}') if got != want else open(dest, 'wb').write(jar)",
].join("\n");

/** The emptyDir the connector is fetched into, its mount, and the init container that fetches it (with the image's python3). */
export function gcsConnectorFetch(image: pulumi.Input<string>): {
    volume: k8s.types.input.core.v1.Volume;
    mount: k8s.types.input.core.v1.VolumeMount;
    initContainer: k8s.types.input.core.v1.Container;
} {
    const mount = { name: "gcs-connector", mountPath: GCS_CONNECTOR_DIR };
    return {
        volume: { name: "gcs-connector", emptyDir: { sizeLimit: "128Mi" } },
        mount: { ...mount, readOnly: true },
        initContainer: {
            name: "fetch-gcs-connector",
            image,
            // Under the Bitnami Spark image's entrypoint, like the driver: args only.
            args: ["python3", "-c", FETCH_SCRIPT, GCS_CONNECTOR_URL, GCS_CONNECTOR_JAR],
            resources: containerResources("50m", "128Mi"),
            securityContext: RESTRICTED_CONTAINER,
            volumeMounts: [mount],
        },
    };
}

/** Where Spark event logs go: Cloud Storage through Workload Identity (GKE), or a volume (local). */
export type EventLogTarget =
    | {
          readonly kind: "gcs";
          /** gs://<log bucket>/spark-events */
          readonly dir: pulumi.Input<string>;
          /** The Google service account that may read the bucket, bound to SPARK_HISTORY_SERVICE_ACCOUNT. */
          readonly historyServiceAccountEmail: pulumi.Input<string>;
      }
    | {
          readonly kind: "volume";
          /** Size of the PersistentVolumeClaim the driver writes to and the History Server reads (config `logVolumeSize`). */
          readonly size: string;
          /** Keep the claim when the stack goes (config `deletionProtection`). */
          readonly retain: boolean;
      };

export interface SparkHistoryArgs {
    /** Spark's namespace: the driver writes the event logs there. */
    readonly namespace: pulumi.Input<string>;
    /** The Bitnami Spark image (the chart's), which has the History Server. */
    readonly image: pulumi.Input<string>;
    readonly target: EventLogTarget;
    /** Days of event logs kept: the History Server's cleaner deletes older ones from a volume; a bucket's lifecycle does it on GKE (config `logRetentionDays`). */
    readonly retentionDays: number;
    /** Labels of the driver pod: on a volume, the History Server runs on the driver's node, as the ReadWriteOnce claim requires. */
    readonly driverPodLabels: Readonly<Record<string, string>>;
    /** Node pools: the on-demand pool (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

export const SPARK_HISTORY_NAME = "spark-history";
export const SPARK_HISTORY_SERVICE_ACCOUNT = SPARK_HISTORY_NAME;
export const SPARK_HISTORY_PORT = 18080;
/** The local port of the History Server's port-forward (the master UI forwards to 8081). */
export const SPARK_HISTORY_LOCAL_PORT = 18080;
/** Where a volume of event logs is mounted, in the driver and the History Server. */
export const EVENT_LOG_MOUNT = "/spark-events";
const POD_LABELS = { "app.kubernetes.io/name": SPARK_HISTORY_NAME, "app.kubernetes.io/part-of": "streaming-platform" };
const IMAGE_USER = 1001;

/** What the driver needs to write event logs where the History Server reads them. */
export interface DriverEventLog {
    /** spark.eventLog.dir */
    readonly dir: pulumi.Input<string>;
    /** The claim to mount at EVENT_LOG_MOUNT (volume target). */
    readonly claimName?: pulumi.Input<string>;
    /** Fetch the GCS connector and put it on the driver's classpath (gcs target). */
    readonly gcsConnector: boolean;
}

/**
 * The Spark History Server: the UIs of finished and restarted drivers, rebuilt from their event logs
 * (spark.history.fs.logDirectory), so a driver's jobs, stages and streaming statistics outlive its pod.
 * A one-replica Deployment of the Bitnami Spark image running org.apache.spark.deploy.history.HistoryServer
 * in the foreground (spark-class, which reads SPARK_HISTORY_OPTS, SPARK_DAEMON_MEMORY and
 * SPARK_DAEMON_CLASSPATH for this class), behind a ClusterIP Service reached by port-forward. On GKE it reads
 * the log bucket as a read-only Google service account (Workload Identity); elsewhere it shares a
 * ReadWriteOnce claim with the driver and is scheduled onto the driver's node.
 */
export class SparkHistory extends pulumi.ComponentResource {
    readonly deployment: k8s.apps.v1.Deployment;
    readonly service: k8s.core.v1.Service;
    readonly serviceAccount: k8s.core.v1.ServiceAccount;
    readonly volume?: k8s.core.v1.PersistentVolumeClaim;
    /** What StreamingJob's eventLog takes. */
    readonly driverEventLog: DriverEventLog;
    readonly inClusterUrl: pulumi.Output<string>;
    readonly portForwardCommand: pulumi.Output<string>;
    readonly localUrl = `http://localhost:${SPARK_HISTORY_LOCAL_PORT}`;

    constructor(name: string, args: SparkHistoryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:SparkHistory", name, {}, opts);
        const gcs = args.target.kind === "gcs" ? args.target : undefined;
        const local = args.target.kind === "volume" ? args.target : undefined;
        const metadata = { name: SPARK_HISTORY_NAME, namespace: args.namespace, labels: POD_LABELS };

        this.serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: {
                    ...metadata,
                    name: SPARK_HISTORY_SERVICE_ACCOUNT,
                    // Workload Identity: its pods get tokens of the bucket's read-only Google service account.
                    ...(gcs ? { annotations: { "iam.gke.io/gcp-service-account": gcs.historyServiceAccountEmail } } : {}),
                },
                automountServiceAccountToken: false,
            },
            { parent: this },
        );
        this.volume = local
            ? new k8s.core.v1.PersistentVolumeClaim(
                  `${name}-events`,
                  {
                      metadata: { ...metadata, name: "spark-events" },
                      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: local.size } } },
                  },
                  { parent: this, retainOnDelete: local.retain },
              )
            : undefined;
        const logDirectory = gcs ? gcs.dir : `file:${EVENT_LOG_MOUNT}`;
        this.driverEventLog = { dir: logDirectory, claimName: this.volume?.metadata.name, gcsConnector: gcs !== undefined };

        const connector = gcs ? gcsConnectorFetch(args.image) : undefined;
        const volumes: k8s.types.input.core.v1.Volume[] = [{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }];
        const mounts: k8s.types.input.core.v1.VolumeMount[] = [{ name: "tmp", mountPath: "/tmp" }];
        if (connector) {
            volumes.push(connector.volume);
            mounts.push(connector.mount);
        }
        if (this.volume) {
            volumes.push({ name: "events", persistentVolumeClaim: { claimName: this.volume.metadata.name } });
            // Read-write: the cleaner deletes event logs older than the retention.
            mounts.push({ name: "events", mountPath: EVENT_LOG_MOUNT });
        }
        const historyOpts = pulumi.output(logDirectory).apply((dir) =>
            [
                `-Dspark.history.fs.logDirectory=${dir}`,
                `-Dspark.history.ui.port=${SPARK_HISTORY_PORT}`,
                "-Dspark.history.fs.update.interval=30s",
                // A bucket's lifecycle deletes old logs and this account may not; on a volume the cleaner does.
                ...(local ? ["-Dspark.history.fs.cleaner.enabled=true", `-Dspark.history.fs.cleaner.maxAge=${args.retentionDays}d`] : []),
            ].join(" "),
        );
        // A streaming driver on a volume: the History Server must run on its node to mount the same claim.
        const sameNode = local
            ? {
                  podAffinity: {
                      requiredDuringSchedulingIgnoredDuringExecution: [
                          { labelSelector: { matchLabels: args.driverPodLabels }, topologyKey: "kubernetes.io/hostname" },
                      ],
                  },
              }
            : undefined;
        // With the logs in Cloud Storage it holds no state: a preempted History Server is a UI away for a minute,
        // so where there is a Spot pool it goes there, leaving the on-demand pool to what keeps data.
        const scheduling = podScheduling(local ? "on-demand" : "spot", args.pools);
        const affinity = scheduling.affinity || sameNode ? { ...scheduling.affinity, ...sameNode } : undefined;

        this.deployment = new k8s.apps.v1.Deployment(
            name,
            {
                // Beside the driver, its pod cannot schedule before the driver's, and nothing makes the streaming job
                // come first: `pulumi up` must not wait for it to be ready, or on a slow cluster it times out first
                // (pulumi-kubernetes' pulumi.com/skipAwait annotation: create it, do not await its readiness).
                metadata: sameNode ? { ...metadata, annotations: { "pulumi.com/skipAwait": "true" } } : metadata,
                spec: {
                    replicas: 1,
                    strategy: { type: "Recreate" },
                    selector: { matchLabels: POD_LABELS },
                    template: {
                        metadata: { labels: POD_LABELS },
                        spec: {
                            serviceAccountName: this.serviceAccount.metadata.name,
                            // It calls no Kubernetes API; the GKE metadata server gives its Google token by the service account.
                            automountServiceAccountToken: false,
                            enableServiceLinks: false,
                            securityContext: restrictedPodSecurity(IMAGE_USER),
                            ...scheduling,
                            ...(affinity ? { affinity } : {}),
                            initContainers: connector ? [connector.initContainer] : [],
                            containers: [
                                {
                                    name: "history-server",
                                    image: args.image,
                                    // Under the image's entrypoint (nss_wrapper gives uid 1001 a name Hadoop needs), in the foreground.
                                    args: ["/opt/bitnami/spark/bin/spark-class", "org.apache.spark.deploy.history.HistoryServer"],
                                    env: [
                                        { name: "SPARK_HISTORY_OPTS", value: historyOpts },
                                        { name: "SPARK_DAEMON_MEMORY", value: "384m" },
                                        ...(connector ? [{ name: "SPARK_DAEMON_CLASSPATH", value: GCS_CONNECTOR_JAR }] : []),
                                    ],
                                    ports: [{ name: "http", containerPort: SPARK_HISTORY_PORT }],
                                    readinessProbe: { httpGet: { path: "/", port: "http" }, periodSeconds: 10, failureThreshold: 6 },
                                    resources: containerResources("50m", "640Mi"),
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
        this.service = new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata,
                spec: { type: "ClusterIP", selector: POD_LABELS, ports: [{ name: "http", port: SPARK_HISTORY_PORT, targetPort: "http" }] },
            },
            { parent: this },
        );
        const { name: service, namespace } = this.service.metadata;
        this.inClusterUrl = pulumi.interpolate`http://${service}.${namespace}.svc.cluster.local:${SPARK_HISTORY_PORT}`;
        this.portForwardCommand = pulumi.interpolate`kubectl -n ${namespace} port-forward svc/${service} ${SPARK_HISTORY_LOCAL_PORT}:${SPARK_HISTORY_PORT}`;
        this.registerOutputs({ service: this.service.metadata.name, inClusterUrl: this.inClusterUrl, portForwardCommand: this.portForwardCommand });
    }
}
