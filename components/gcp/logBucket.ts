import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { resourceId } from "./naming";
import { workloadIdentityMember } from "./backupBucket";

/** A Kubernetes service account, as Workload Identity names it. */
export interface KubernetesServiceAccountRef {
    readonly namespace: string;
    readonly name: string;
}

/** Who writes and reads the log bucket: each is a Google service account bound to one Kubernetes service account. */
export const LOG_WRITERS = ["airflow", "spark-events", "spark-history"] as const;
export type LogWriter = (typeof LOG_WRITERS)[number];

/**
 * The one role of each account, on the log bucket only. Airflow's GCS task handler reads a task's log
 * back and overwrites it when the task logs again (objectAdmin); Spark writes `<app>.inprogress` and
 * renames it when the application ends, which in Cloud Storage is a copy and a delete (objectAdmin);
 * the History Server only lists and reads (objectViewer).
 */
export const LOG_BUCKET_ROLES: Readonly<Record<LogWriter, string>> = {
    airflow: "roles/storage.objectAdmin",
    "spark-events": "roles/storage.objectAdmin",
    "spark-history": "roles/storage.objectViewer",
};

/** The tail of a bucket grant's resource name ("objectadmin", "objectviewer"), the same in the platform and bootstrap/. */
export const logBucketRoleSuffix = (writer: LogWriter): string => LOG_BUCKET_ROLES[writer].split(".").pop()!.toLowerCase();

/** Where each writes in the bucket. */
export const LOG_PREFIXES = { airflow: "airflow", sparkEvents: "spark-events" } as const;

/**
 * The folder marker object under spark-events/: the History Server refuses a log directory that does not exist,
 * and in Cloud Storage a directory is an object whose name ends in "/" (the GCS connector's directory marker).
 * Shared with bootstrap/, which makes it with `projectSetup: bootstrap`.
 */
export function sparkEventsMarkerArgs(bucket: pulumi.Input<string>): gcp.storage.BucketObjectArgs {
    return { bucket, name: `${LOG_PREFIXES.sparkEvents}/`, content: " ", contentType: "application/x-directory" };
}

/** The bucket's name: per project and stack, within Cloud Storage's 63 characters. */
export function logBucketName(project: string, stack: string): string {
    return resourceId(`${project}-logs-${stack}`, 63);
}

/** A log account's id (6-30 characters). */
export function logServiceAccountId(writer: LogWriter, stack: string): string {
    const short = { airflow: "airflow-logs", "spark-events": "spark-events", "spark-history": "spark-history" }[writer];
    return resourceId(`${short}-${stack}`, 30);
}

/** A log account's email; with `projectSetup: bootstrap` the platform uses it by this address. */
export function logServiceAccountEmail(writer: LogWriter, project: string, stack: string): string {
    return `${logServiceAccountId(writer, stack)}@${project}.iam.gserviceaccount.com`;
}

/** What the bucket's settings depend on; meant to be shared with bootstrap/ as backupBucketArgs is. */
export interface LogBucketSettings {
    readonly project: string;
    readonly region: string;
    readonly stack: string;
    readonly retentionDays: number;
    readonly forceDestroy: boolean;
}

/**
 * What the Delete rule reaches: Airflow's task logs, and Spark's event logs, which are named by application
 * id (core EventLogFileWriters.scala: SingleEventLogFileWriter writes `<appId>[.<codec>][.inprogress]`,
 * RollingEventLogFilesWriter a folder `eventlog_v2_<appId>`). The standalone master names applications
 * `app-...` (Master.newApplicationId), a local driver `local-...`, Kubernetes `spark-...`, YARN
 * `application_...`. Never the `spark-events/` marker itself: once it expired, the driver and the History
 * Server would fail at start (requireLogBaseDirAsDirectory), for example after dev was paused for a month.
 */
export const LOG_EXPIRY_PREFIXES = [
    `${LOG_PREFIXES.airflow}/`,
    ...["app-", "local-", "spark-", "application_", "eventlog_v2_"].map((appId) => `${LOG_PREFIXES.sparkEvents}/${appId}`),
];

/** The log bucket's arguments: private, unversioned (logs are not worth two copies), logs deleted after the retention. */
export function logBucketArgs(settings: LogBucketSettings): gcp.storage.BucketArgs {
    return {
        project: settings.project,
        name: logBucketName(settings.project, settings.stack),
        location: settings.region.toUpperCase(),
        storageClass: "STANDARD",
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        forceDestroy: settings.forceDestroy,
        lifecycleRules: [{ action: { type: "Delete" }, condition: { age: settings.retentionDays, matchesPrefixes: LOG_EXPIRY_PREFIXES } }],
        labels: { "part-of": "streaming-platform", stack: resourceId(settings.stack, 63) },
    };
}

/** A log account's arguments; meant to be shared with bootstrap/. */
export function logServiceAccountArgs(writer: LogWriter, project: string, stack: string): gcp.serviceaccount.AccountArgs {
    const what: Record<LogWriter, string> = {
        airflow: "Writes and reads Airflow task logs in the log bucket (Workload Identity of Airflow's pods)",
        "spark-events": "Writes Spark event logs to the log bucket (Workload Identity of the streaming job's driver)",
        "spark-history": "Reads Spark event logs from the log bucket (Workload Identity of the Spark History Server)",
    };
    return { project, accountId: logServiceAccountId(writer, stack), displayName: `${writer} logs of ${stack}`, description: what[writer] };
}

export interface LogBucketArgs {
    readonly project: string;
    /** The bucket's location: the stack's region, next to the cluster. */
    readonly region: string;
    /** Objects older than this many days are deleted (config `logRetentionDays`). */
    readonly retentionDays: number;
    /** The Kubernetes service account each Google service account is bound to. */
    readonly kubernetesServiceAccounts: Readonly<Record<LogWriter, KubernetesServiceAccountRef>>;
    /** Delete the bucket with its objects on `pulumi destroy` (false under deletion protection). */
    readonly forceDestroy: boolean;
    /** Pulumi `protect` on the bucket (config `deletionProtection`). */
    readonly protect: boolean;
    /** What the Workload Identity grants wait for: the cluster, whose creation makes the workload pool. */
    readonly workloadPoolReady?: pulumi.Input<pulumi.Resource>[];
}

/**
 * A Cloud Storage bucket for the logs that must outlive pods (Airflow task logs under airflow/, Spark
 * event logs under spark-events/) and the identities allowed to use it: one Google service account per
 * writer or reader, each with one role on this bucket alone (LOG_BUCKET_ROLES), each acting for one
 * Kubernetes service account through Workload Identity. Private (uniform bucket-level access, public
 * access prevention enforced); its lifecycle deletes logs after the retention period.
 */
export class LogBucket extends pulumi.ComponentResource {
    readonly bucket: gcp.storage.Bucket;
    readonly name: pulumi.Output<string>;
    /** Each Google service account's email, for the iam.gke.io/gcp-service-account annotations. */
    readonly serviceAccountEmails: Record<LogWriter, pulumi.Output<string>>;

    constructor(name: string, args: LogBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:LogBucket", name, {}, opts);
        const stack = pulumi.getStack();
        this.bucket = new gcp.storage.Bucket(
            name,
            logBucketArgs({ project: args.project, region: args.region, stack, retentionDays: args.retentionDays, forceDestroy: args.forceDestroy }),
            { parent: this, protect: args.protect },
        );
        this.name = this.bucket.name;
        new gcp.storage.BucketObject(`${name}-spark-events-dir`, sparkEventsMarkerArgs(this.bucket.name), { parent: this });
        const emails: Partial<Record<LogWriter, pulumi.Output<string>>> = {};
        for (const writer of LOG_WRITERS) {
            const account = new gcp.serviceaccount.Account(`${name}-${writer}`, logServiceAccountArgs(writer, args.project, stack), { parent: this });
            new gcp.storage.BucketIAMMember(
                `${name}-${writer}-${logBucketRoleSuffix(writer)}`,
                { bucket: this.bucket.name, role: LOG_BUCKET_ROLES[writer], member: account.member },
                { parent: this },
            );
            new gcp.serviceaccount.IAMMember(
                `${name}-${writer}-workload-identity`,
                {
                    serviceAccountId: account.name,
                    role: "roles/iam.workloadIdentityUser",
                    member: workloadIdentityMember(args.project, args.kubernetesServiceAccounts[writer]),
                },
                { parent: this, dependsOn: args.workloadPoolReady },
            );
            emails[writer] = account.email;
        }
        this.serviceAccountEmails = emails as Record<LogWriter, pulumi.Output<string>>;
        this.registerOutputs({ bucket: this.bucket.name, serviceAccounts: this.serviceAccountEmails });
    }
}
