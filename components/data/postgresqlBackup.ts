import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { chartImage } from "./charts";
import { SecretKey } from "./postgresqlSchema";
import { containerResources, readOnlyRestrictedContainer, restrictedPodSecurity } from "../k8s/kubernetesObjects";
import { PodSet } from "../k8s/networkIsolation";
import { podScheduling, PoolLayout } from "../k8s/placement";
import { caVolume, LIBPQ_TLS_ENV } from "./postgresqlTls";

/** Where the archives go: a Cloud Storage bucket through Workload Identity (GKE), or a volume (local). */
export type BackupTarget =
    | {
          readonly kind: "gcs";
          /** The bucket (components/gcp/backupBucket.ts). */
          readonly bucket: pulumi.Input<string>;
          /** The Google service account allowed to create objects in it, bound to BACKUP_SERVICE_ACCOUNT. */
          readonly serviceAccountEmail: pulumi.Input<string>;
          /** Size limit of the scratch emptyDir the dumps are written to before the upload. */
          readonly scratchSize: string;
      }
    | {
          readonly kind: "volume";
          /** Size of the PersistentVolumeClaim the archives are kept on. */
          readonly size: string;
          /** Keep the claim when the stack goes (config `deletionProtection`). */
          readonly retain: boolean;
      };

export interface PostgresqlBackupArgs {
    /** PostgreSQL's namespace: the CronJob runs there, next to the admin Secret. */
    readonly namespace: pulumi.Input<string>;
    /** The primary's Service. */
    readonly host: string;
    /** TCP port of PostgreSQL. */
    readonly port: number;
    /** The databases dumped, each into its own archive. */
    readonly databases: readonly string[];
    /** The admin (postgres) password, which can read every database. */
    readonly adminPassword: SecretKey;
    /** Registry of the chart's images (PostgreSQL for pg_dump, os-shell for the upload), as the release gets it. */
    readonly imageRegistry: pulumi.Input<string>;
    /** When the CronJob runs, in UTC (config `backupSchedule`). */
    readonly schedule: string;
    /** Days archives are kept; the job prunes its volume itself, a bucket's lifecycle does it there (config `backupRetentionDays`). */
    readonly retentionDays: number;
    readonly target: BackupTarget;
    /** Node pools: the on-demand pool, so a Spot preemption does not cut a backup short (components/k8s/placement.ts). */
    readonly pools?: PoolLayout;
}

/** The backup pods' labels; the NetworkPolicy flow to the primary selects them. */
export const BACKUP_POD_LABELS: Readonly<Record<string, string>> = {
    "app.kubernetes.io/name": "postgresql-backup",
    "app.kubernetes.io/component": "backup",
    "app.kubernetes.io/part-of": "streaming-platform",
};
/** The CronJob's Kubernetes service account; Workload Identity binds it to the bucket's Google service account. */
export const BACKUP_SERVICE_ACCOUNT = "postgresql-backup";
export const BACKUP_CRONJOB = "postgresql-backup";

const HELM_VALUES = path.resolve(__dirname, "..", "..", "helm-values");
/** The scripts the job runs; pipeline/tests/test_backup_restore.py runs the same files against a real PostgreSQL. */
export const BACKUP_SCRIPTS = {
    dump: "postgresql-backup.sh",
    upload: "postgresql-backup-upload.sh",
} as const;
const SCRIPT_DIR = "/scripts";
const BACKUP_DIR = "/backup";
/** The images' own user (Dockerfile `USER 1001`), as in the schema Job. */
const IMAGE_USER = 1001;

/** A Bitnami image pinned in helm-values/postgresql.yaml (`image`, or `volumePermissions.image`: os-shell, which has curl), by its locked digest when there is one. */
function postgresqlChartImage(which: "postgresql" | "os-shell", registry: string): string {
    return chartImage("postgresql", registry, which === "postgresql" ? "image" : "volumePermissions.image");
}

/**
 * PostgreSQL logical backups: a CronJob that dumps every application database with pg_dump in custom
 * format (helm-values/postgresql-backup.sh) as the admin, from the primary, with the chart's own
 * PostgreSQL image (pg_dump of the server's major). On GKE the dump runs in an init container into an
 * emptyDir and the main container (the chart's os-shell image, which has curl; the PostgreSQL image
 * has none) uploads each archive to Cloud Storage as <database>/<timestamp>.dump
 * (helm-values/postgresql-backup-upload.sh), as the Google service account its Kubernetes service
 * account is bound to (Workload Identity). On a stack without Google Cloud the archives stay on a
 * PersistentVolumeClaim and the job deletes those older than the retention.
 */
export class PostgresqlBackup extends pulumi.ComponentResource {
    readonly cronJob: k8s.batch.v1.CronJob;
    readonly serviceAccount: k8s.core.v1.ServiceAccount;
    readonly volume?: k8s.core.v1.PersistentVolumeClaim;
    /** The backup pods, which connect to the primary as the admin. */
    readonly pods: PodSet;

    constructor(name: string, args: PostgresqlBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:data:PostgresqlBackup", name, {}, opts);
        const labels = BACKUP_POD_LABELS;
        const gcs = args.target.kind === "gcs" ? args.target : undefined;
        const local = args.target.kind === "volume" ? args.target : undefined;
        this.pods = { namespace: args.namespace, labels };

        const scripts = new k8s.core.v1.ConfigMap(
            `${name}-scripts`,
            {
                metadata: { name: "postgresql-backup-scripts", namespace: args.namespace, labels },
                data: Object.fromEntries(Object.values(BACKUP_SCRIPTS).map((file) => [file, fs.readFileSync(path.join(HELM_VALUES, file), "utf8")])),
            },
            { parent: this },
        );
        this.serviceAccount = new k8s.core.v1.ServiceAccount(
            `${name}-service-account`,
            {
                metadata: {
                    name: BACKUP_SERVICE_ACCOUNT,
                    namespace: args.namespace,
                    labels,
                    // Workload Identity: the GKE metadata server gives this account's pods tokens of the Google service account.
                    ...(gcs ? { annotations: { "iam.gke.io/gcp-service-account": gcs.serviceAccountEmail } } : {}),
                },
                // No Kubernetes API rights are granted to it (no Role binding).
                automountServiceAccountToken: false,
            },
            { parent: this },
        );
        this.volume = local
            ? new k8s.core.v1.PersistentVolumeClaim(
                  `${name}-volume`,
                  {
                      metadata: { name: "postgresql-backups", namespace: args.namespace, labels },
                      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: local.size } } },
                  },
                  // The archives are data: kept on `pulumi destroy` under deletion protection.
                  { parent: this, retainOnDelete: local.retain },
              )
            : undefined;

        const registry = pulumi.output(args.imageRegistry);
        const mounts = [
            { name: "scripts", mountPath: SCRIPT_DIR, readOnly: true },
            { name: "backup", mountPath: BACKUP_DIR },
            { name: "tmp", mountPath: "/tmp" },
        ];
        const dump = {
            name: "pg-dump",
            image: registry.apply((r) => postgresqlChartImage("postgresql", r)),
            imagePullPolicy: "IfNotPresent",
            // Replaces the image's entrypoint; pg_dump and pg_restore are on its PATH (/opt/bitnami/postgresql/bin).
            command: ["sh", `${SCRIPT_DIR}/${BACKUP_SCRIPTS.dump}`],
            env: [
                { name: "PGHOST", value: args.host },
                { name: "PGPORT", value: String(args.port) },
                { name: "PGUSER", value: "postgres" },
                { name: "PGCONNECT_TIMEOUT", value: "10" },
                { name: "PGAPPNAME", value: "postgresql-backup" },
                // TLS required, the server verified against the CA in the postgresql-ca ConfigMap (components/data/postgresqlTls.ts).
                ...LIBPQ_TLS_ENV,
                { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: args.adminPassword.name, key: args.adminPassword.key } } },
                { name: "BACKUP_DATABASES", value: args.databases.join(" ") },
                { name: "BACKUP_DIR", value: BACKUP_DIR },
                // The job prunes its own volume; a bucket's lifecycle rule does that on GKE.
                ...(local ? [{ name: "BACKUP_KEEP_DAYS", value: String(args.retentionDays) }] : []),
            ],
            resources: containerResources("100m", "256Mi"),
            securityContext: readOnlyRestrictedContainer(IMAGE_USER),
            volumeMounts: [...mounts, caVolume().mount],
        };
        const upload = gcs && {
            name: "upload",
            image: registry.apply((r) => postgresqlChartImage("os-shell", r)),
            imagePullPolicy: "IfNotPresent",
            command: ["sh", `${SCRIPT_DIR}/${BACKUP_SCRIPTS.upload}`],
            env: [
                { name: "BACKUP_BUCKET", value: gcs.bucket },
                { name: "BACKUP_DIR", value: BACKUP_DIR },
            ],
            resources: containerResources("50m", "64Mi"),
            securityContext: readOnlyRestrictedContainer(IMAGE_USER),
            volumeMounts: mounts,
        };

        this.cronJob = new k8s.batch.v1.CronJob(
            name,
            {
                metadata: { name: BACKUP_CRONJOB, namespace: args.namespace, labels },
                spec: {
                    schedule: args.schedule,
                    timeZone: "Etc/UTC",
                    // Never two backups at once; a run missed by more than an hour (cluster down) is skipped, not caught up.
                    concurrencyPolicy: "Forbid",
                    startingDeadlineSeconds: 3600,
                    successfulJobsHistoryLimit: 3,
                    failedJobsHistoryLimit: 3,
                    jobTemplate: {
                        metadata: { labels },
                        spec: {
                            backoffLimit: 2,
                            activeDeadlineSeconds: 3 * 3600,
                            template: {
                                metadata: { labels },
                                spec: {
                                    restartPolicy: "Never",
                                    serviceAccountName: this.serviceAccount.metadata.name,
                                    // Only the upload needs an identity, and the GKE metadata server gives it by the pod's
                                    // service account; the Kubernetes API token is never needed.
                                    automountServiceAccountToken: false,
                                    enableServiceLinks: false,
                                    ...podScheduling("on-demand", args.pools),
                                    securityContext: restrictedPodSecurity(IMAGE_USER),
                                    // The dump first; the upload only after every database was dumped and checked.
                                    ...(upload ? { initContainers: [dump], containers: [upload] } : { containers: [dump] }),
                                    volumes: [
                                        { name: "scripts", configMap: { name: scripts.metadata.name, defaultMode: 0o444 } },
                                        local
                                            ? { name: "backup", persistentVolumeClaim: { claimName: this.volume!.metadata.name } }
                                            : { name: "backup", emptyDir: { sizeLimit: gcs!.scratchSize } },
                                        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
                                        caVolume().volume,
                                    ],
                                },
                            },
                        },
                    },
                },
            },
            { parent: this },
        );
        this.registerOutputs({ cronJob: this.cronJob.metadata.name, serviceAccount: this.serviceAccount.metadata.name });
    }
}
