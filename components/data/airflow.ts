import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { bitnamiRelease } from "./bitnamiRelease";
import {
    containerResources,
    fixedNamespace,
    fixedSecret,
    generatedPassword,
    ONE_AT_A_TIME,
    randomBase64Url,
    volumeRetention,
    zoneSpread,
} from "../k8s/kubernetesObjects";
import { contentHash, FileSet } from "../pipeline/assets";
import { PinnedImage } from "../pipeline/images";
import { loadBalancerUrl, UiArgs, UiEndpoint, uiEndpoint, UiExposureArgs, uiLoadBalancer } from "./uiEndpoint";
import { bitnamiPods, PodSet } from "../k8s/networkIsolation";
import { ScrapeTarget } from "../k8s/monitoring";
import { chartScheduling, PodRole, PoolLayout } from "../k8s/placement";
import { caConfigMap, caVolume, LIBPQ_TLS_ENV } from "./postgresqlTls";

/** The external PostgreSQL database Airflow keeps its metadata in. */
export interface AirflowDatabaseArgs {
    /** Host name of the PostgreSQL primary's Service. */
    readonly host: pulumi.Input<string>;
    /** TCP port of PostgreSQL. */
    readonly port: pulumi.Input<number>;
    /** Name of the database Airflow owns. */
    readonly database: pulumi.Input<string>;
    /** Role that owns that database. */
    readonly username: pulumi.Input<string>;
    /** The role's password; it goes into a Secret, never into Helm values. */
    readonly password: pulumi.Input<string>;
    /** The CA certificate PostgreSQL's server certificate is signed with; every pod verifies the server against it. */
    readonly caCertificate: pulumi.Input<string>;
}

/** DAGs shipped with the platform, and what their tasks need at run time. */
export interface AirflowDagsArgs {
    /** File name to content; becomes the ConfigMap mounted as the dags folder. */
    readonly files: FileSet;
    /**
     * Plain environment of every Airflow pod: the Kafka client's settings and the DAG's (config `cryptoSource`,
     * `cryptoSymbols`, `cryptoVsCurrency`, `pollSchedule`, `cryptoApiUrl`).
     */
    readonly environment: Record<string, string>;
    /** Environment handed over by Secret, such as the Kafka password. */
    readonly secretEnvironment: Record<string, pulumi.Input<string>>;
    /** pip requirements the pods install at start, when no built image carries them (config `buildImages` false). */
    readonly requirements?: string;
}

/**
 * Where task logs go so the UI can show them after the task's pod is gone: Airflow's remote logging to Cloud
 * Storage (the google provider's GCS task handler) as a Google service account through Workload Identity, or
 * a PersistentVolumeClaim every Airflow pod mounts (stacks without Cloud Storage).
 */
export type AirflowTaskLogs =
    | {
          readonly kind: "gcs";
          /** remote_base_log_folder: gs://<log bucket>/airflow */
          readonly folder: pulumi.Input<string>;
          /** The Google service account allowed to read and write the log bucket, bound to AIRFLOW_SERVICE_ACCOUNT. */
          readonly serviceAccountEmail: pulumi.Input<string>;
      }
    | {
          readonly kind: "volume";
          /** Size of the claim (config `logVolumeSize`). */
          readonly size: string;
          /** Keep the claim when the stack goes (config `deletionProtection`). */
          readonly retain: boolean;
      };

export interface AirflowArgs {
    /** Namespace created for Airflow. */
    readonly namespace: string;
    /** LocalExecutor (no Redis) or CeleryExecutor (adds Redis and workers) (config `airflowExecutor`). */
    readonly executor: "LocalExecutor" | "CeleryExecutor";
    /** Replicas of the API server, the scheduler and (Celery) the workers (config `airflowReplicas`). */
    readonly replicas: number;
    /** The metadata database on the platform's PostgreSQL. */
    readonly database: AirflowDatabaseArgs;
    /** How the Airflow web UI is reached (config `uiExposure`, `uiSourceRanges`). */
    readonly uiExposure: UiExposureArgs;
    /** Registry of the Bitnami images (config `imageRegistry`, or the Docker Hub mirror with `dockerHubMirror`). */
    readonly imageRegistry: pulumi.Input<string>;
    /** Keep Redis's volume when the release goes (config `deletionProtection`). */
    readonly retainVolumes: boolean;
    /** Prefer replicas of each component in different zones; true on a regional cluster (config `regional`). */
    readonly zoneSpread: boolean;
    /**
     * Node pools to place the pods on: scheduler, API server, triggerer, DAG processor and Redis on-demand,
     * Celery workers preferring Spot (components/k8s/placement.ts).
     */
    readonly pools?: PoolLayout;
    /** The DAGs shipped with the platform and their run-time settings. */
    readonly dags: AirflowDagsArgs;
    /** An image built on the chart's, by digest (config `buildImages`); the chart's own image when absent. */
    readonly image?: pulumi.Input<PinnedImage>;
    /** Where task logs are kept beyond their pod; absent: in each pod's emptyDir, as the chart does. */
    readonly taskLogs?: AirflowTaskLogs;
}

const CREDENTIALS_SECRET = "airflow-credentials";
const DATABASE_SECRET = "airflow-database";
const REDIS_SECRET = "airflow-redis";
const DAGS_CONFIGMAP = "airflow-dags";
const DAGS_ENV_SECRET = "airflow-dags-env";
const REQUIREMENTS_CONFIGMAP = "airflow-requirements";
/**
 * Where the chart puts the files of dags.existingConfigmap: its load-dags init container copies them to
 * dags/external (airflow 25.0.2 templates/_init_containers_sidecars.tpl), while Airflow puts only the dags
 * folder itself on sys.path. On PYTHONPATH, a DAG can import the modules shipped beside it.
 */
const EXTERNAL_DAGS_DIR = "/opt/bitnami/airflow/dags/external";
/** Where the Bitnami image looks for extra packages to pip-install at start. */
const REQUIREMENTS_PATH = "/bitnami/python/requirements.txt";
export const AIRFLOW_ADMIN_USER = "admin";
/** The chart's service account of every Airflow pod, named so Workload Identity can bind it (serviceAccount.name). */
export const AIRFLOW_SERVICE_ACCOUNT = "airflow";
/** The connection remote logging uses: no key, so the google provider takes Application Default Credentials (Workload Identity). */
export const AIRFLOW_LOG_CONNECTION = "google_cloud_default";
/** Where task logs are written on a stack without Cloud Storage: the task-logs claim (the chart's own logs dir is an emptyDir). */
export const AIRFLOW_TASK_LOG_DIR = "/opt/bitnami/airflow/task-logs";

/** The chart values that keep task logs beyond their pod (AirflowTaskLogs). */
function taskLogValues(logs: AirflowTaskLogs | undefined, claimName: pulumi.Input<string> | undefined) {
    const gcs = logs?.kind === "gcs" ? logs : undefined;
    return pulumi.all([gcs?.folder, gcs?.serviceAccountEmail, claimName]).apply(([folder, email, claim]) => ({
        serviceAccount: {
            create: true,
            name: AIRFLOW_SERVICE_ACCOUNT,
            // The pods call no Kubernetes API; the GKE metadata server gives their Google token by this account's name.
            automountServiceAccountToken: false,
            annotations: email ? { "iam.gke.io/gcp-service-account": email } : {},
        },
        env: folder
            ? [
                  { name: "AIRFLOW__LOGGING__REMOTE_LOGGING", value: "True" },
                  { name: "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER", value: folder },
                  { name: "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID", value: AIRFLOW_LOG_CONNECTION },
                  // A google_cloud_platform connection without key or key path: google.auth.default(), the metadata server.
                  { name: `AIRFLOW_CONN_${AIRFLOW_LOG_CONNECTION.toUpperCase()}`, value: "google-cloud-platform://" },
              ]
            : claim
              ? [{ name: "AIRFLOW__LOGGING__BASE_LOG_FOLDER", value: AIRFLOW_TASK_LOG_DIR }]
              : [],
        volumes: claim ? [{ name: "task-logs", persistentVolumeClaim: { claimName: claim } }] : [],
        mounts: claim ? [{ name: "task-logs", mountPath: AIRFLOW_TASK_LOG_DIR }] : [],
    }));
}

/** Airflow 3 on an external PostgreSQL, with every credential generated and handed over by Secret. */
export class Airflow extends pulumi.ComponentResource {
    readonly namespace: k8s.core.v1.Namespace;
    readonly release: k8s.helm.v3.Release;
    readonly ui: UiEndpoint;
    /** Every pod of the release: API server, scheduler, DAG processor, triggerer, Celery workers, Redis. */
    readonly pods: PodSet;
    /** The API server's pods, which serve the UI on uiPort. */
    readonly webPods: PodSet;
    readonly uiPort = 8080;
    /** Where tasks run: the Celery workers, or the scheduler with the LocalExecutor. */
    readonly taskRunnerPods: PodSet;
    /** The chart's statsd exporter, fed by every Airflow component (helm-values/airflow.yaml metrics): port "metrics". */
    readonly metrics: ScrapeTarget;
    readonly adminUser = AIRFLOW_ADMIN_USER;
    readonly adminPassword: pulumi.Output<string>;

    constructor(name: string, args: AirflowArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:Airflow", name, {}, opts);
        this.namespace = fixedNamespace(args.namespace, this);
        this.pods = { namespace: this.namespace.metadata.name, labels: { "app.kubernetes.io/instance": "airflow" } };
        this.webPods = bitnamiPods(this.namespace.metadata.name, "airflow", "web");
        this.taskRunnerPods = bitnamiPods(this.namespace.metadata.name, "airflow", args.executor === "CeleryExecutor" ? "worker" : "scheduler");
        this.metrics = {
            name: "airflow",
            pods: bitnamiPods(this.namespace.metadata.name, "airflow", "metrics"),
            portName: "metrics",
            port: 9102,
            path: "/metrics",
            why: "Airflow's statsd exporter",
        };
        this.adminPassword = generatedPassword(`${name}-admin-password`, this);

        const secrets = [
            // Key names are the ones the chart reads; Airflow 3 adds the JWT signing key.
            fixedSecret(
                CREDENTIALS_SECRET,
                this.namespace,
                {
                    "airflow-password": this.adminPassword,
                    // Fernet keys are url-safe base64 of exactly 32 random bytes.
                    "airflow-fernet-key": randomBase64Url(`${name}-fernet-key`, 32, true, this),
                    "airflow-secret-key": generatedPassword(`${name}-secret-key`, this),
                    "airflow-jwt-secret-key": generatedPassword(`${name}-jwt-secret-key`, this),
                },
                this,
            ),
            fixedSecret(DATABASE_SECRET, this.namespace, { password: args.database.password }, this),
        ];
        // The metadata database over TLS, verifying the server: the chart builds sql_alchemy_conn itself, without
        // connection options (airflow 25.0.2 templates/_init_containers_sidecars.tpl, prepare-config), so libpq's
        // environment carries them. psycopg2 (libpq) and asyncpg, which Airflow 3 derives sql_alchemy_conn_async
        // for, both read PGSSLMODE and PGSSLROOTCERT. extraEnvVars and extraVolumeMounts reach every Airflow
        // container, the wait-for-db-migrations init container included.
        const databaseCa = caConfigMap(`${name}-postgresql-ca`, this.namespace.metadata.name, args.database.caCertificate, this);
        const ca = caVolume();
        secrets.push(fixedSecret(DAGS_ENV_SECRET, this.namespace, args.dags.secretEnvironment, this));
        const dagsConfigMap = new k8s.core.v1.ConfigMap(
            DAGS_CONFIGMAP,
            {
                metadata: { name: DAGS_CONFIGMAP, namespace: this.namespace.metadata.name },
                data: args.dags.files,
            },
            { parent: this },
        );
        const requirements =
            args.dags.requirements === undefined
                ? undefined
                : new k8s.core.v1.ConfigMap(
                      REQUIREMENTS_CONFIGMAP,
                      {
                          metadata: { name: REQUIREMENTS_CONFIGMAP, namespace: this.namespace.metadata.name },
                          data: { "requirements.txt": args.dags.requirements },
                      },
                      { parent: this },
                  );
        // The chart copies DAGs into each pod when it starts, so a changed DAG must restart the pods.
        const rollOnDagChange = {
            podAnnotations: { "streaming-platform/dags": contentHash({ ...args.dags.files, requirements: args.dags.requirements ?? "" }) },
        };
        const celery = args.executor === "CeleryExecutor";
        if (celery) {
            secrets.push(fixedSecret(REDIS_SECRET, this.namespace, { "redis-password": generatedPassword(`${name}-redis-password`, this) }, this));
        }

        const placed = (role: PodRole) => ({ ...rollOnDagChange, ...chartScheduling(role, args.pools) });
        const replicated = (component: string, role: PodRole) => ({
            ...placed(role),
            replicaCount: args.replicas,
            pdb: ONE_AT_A_TIME,
            topologySpreadConstraints: args.zoneSpread
                ? zoneSpread({ "app.kubernetes.io/instance": "airflow", "app.kubernetes.io/component": component }, false)
                : [],
        });
        // Task logs on a claim every Airflow pod mounts: ReadWriteOnce, so it needs the single-node clusters the
        // local stacks run on (kind, Docker Desktop); with Cloud Storage, remote logging needs no volume.
        const taskLogClaim =
            args.taskLogs?.kind === "volume"
                ? new k8s.core.v1.PersistentVolumeClaim(
                      `${name}-task-logs`,
                      {
                          metadata: { name: "airflow-task-logs", namespace: this.namespace.metadata.name },
                          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: args.taskLogs.size } } },
                      },
                      { parent: this, retainOnDelete: args.taskLogs.retain },
                  )
                : undefined;
        const taskLogs = taskLogValues(args.taskLogs, taskLogClaim?.metadata.name);
        this.release = bitnamiRelease(
            {
                chart: "airflow",
                namespace: this.namespace.metadata.name,
                imageRegistry: args.imageRegistry,
                // First installs pull a 1.5 GB image and migrate the database before anything is ready.
                timeoutSeconds: 1800,
                // Only the connection's names go into values: the password travels by Secret.
                values: pulumi
                    .all([
                        args.database.host,
                        args.database.port,
                        args.database.database,
                        args.database.username,
                        args.image,
                        loadBalancerUrl(args.uiExposure),
                        taskLogs,
                    ])
                    .apply(([host, port, database, user, image, baseUrl, logs]) => ({
                        ...(image ? { image: { registry: image.registry, repository: image.repository, digest: image.digest } } : {}),
                        executor: args.executor,
                        auth: { existingSecret: CREDENTIALS_SECRET },
                        serviceAccount: logs.serviceAccount,
                        externalDatabase: {
                            host,
                            port,
                            database,
                            user,
                            existingSecret: DATABASE_SECRET,
                            existingSecretPasswordKey: "password",
                        },
                        redis: celery
                            ? {
                                  enabled: true,
                                  auth: { enabled: true, existingSecret: REDIS_SECRET, existingSecretPasswordKey: "redis-password" },
                                  master: {
                                      resources: containerResources("100m", "256Mi"),
                                      persistence: { size: "2Gi" },
                                      persistentVolumeClaimRetentionPolicy: volumeRetention(args.retainVolumes),
                                      // The Celery broker's queue: on-demand.
                                      ...chartScheduling("on-demand", args.pools),
                                  },
                              }
                            : { enabled: false },
                        // Redirects after login go to base_url, so it must be the address users reach (chart: airflow.baseUrl
                        // in templates/_helpers.tpl appends the Service port unless the URL names one).
                        web: { ...replicated("web", "on-demand"), ...(baseUrl ? { baseUrl } : {}) },
                        scheduler: replicated("scheduler", "on-demand"),
                        dagProcessor: placed("on-demand"),
                        triggerer: placed("on-demand"),
                        // The statsd exporter: what it holds is lost when it moves, so on-demand like the scheduler.
                        metrics: chartScheduling("on-demand", args.pools),
                        // Celery workers hold no state: a preempted task is retried (the DAG's retries).
                        ...(celery ? { worker: replicated("worker", "spot") } : {}),
                        dags: { enabled: true, existingConfigmap: DAGS_CONFIGMAP },
                        extraEnvVars: [
                            ...Object.entries({ ...args.dags.environment, PYTHONPATH: EXTERNAL_DAGS_DIR }).map(([name, value]) => ({
                                name,
                                value,
                            })),
                            ...LIBPQ_TLS_ENV,
                            ...logs.env,
                        ],
                        extraEnvVarsSecret: DAGS_ENV_SECRET,
                        extraVolumes: [
                            ...(requirements ? [{ name: "requirements", configMap: { name: REQUIREMENTS_CONFIGMAP } }] : []),
                            ca.volume,
                            ...logs.volumes,
                        ],
                        extraVolumeMounts: [
                            ...(requirements ? [{ name: "requirements", mountPath: REQUIREMENTS_PATH, subPath: "requirements.txt" }] : []),
                            ca.mount,
                            ...logs.mounts,
                        ],
                    })),
            },
            { parent: this, dependsOn: [...secrets, dagsConfigMap, databaseCa, ...(requirements ? [requirements] : [])] },
        );

        const ui: UiArgs = {
            service: "airflow-web",
            namespace: args.namespace,
            servicePort: 8080,
            localPort: 8080,
            podLabels: { "app.kubernetes.io/name": "airflow", "app.kubernetes.io/instance": "airflow", "app.kubernetes.io/component": "web" },
            containerPort: "http",
            exposure: args.uiExposure,
        };
        uiLoadBalancer("airflow-ui", ui, this.namespace.metadata.name, this);
        this.ui = uiEndpoint(ui);
        this.registerOutputs({ ui: this.ui, adminUser: this.adminUser, adminPassword: this.adminPassword });
    }
}
