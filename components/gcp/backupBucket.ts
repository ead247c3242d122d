import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { resourceId } from "./naming";

export interface BackupBucketArgs {
    readonly project: string;
    /** The bucket's location: the stack's region, next to the cluster. */
    readonly region: string;
    /** Objects (backups) older than this many days are deleted (config `backupRetentionDays`). */
    readonly retentionDays: number;
    /** A replaced or deleted object's previous version is deleted this many days later (config `backupNoncurrentDays`). */
    readonly noncurrentDays: number;
    /** The Kubernetes service account that uploads, as Workload Identity names it. */
    readonly kubernetesServiceAccount: { readonly namespace: string; readonly name: string };
    /** Delete the bucket with its objects on `pulumi destroy`; false (deletion protection) makes destroy stop at a non-empty bucket. */
    readonly forceDestroy: boolean;
    /** Pulumi `protect` on the bucket (config `deletionProtection`). */
    readonly protect: boolean;
    /**
     * What the Workload Identity grant waits for: the cluster, whose creation makes the project's
     * workload pool (<project>.svc.id.goog); a grant to a member of a missing pool fails.
     */
    readonly workloadPoolReady?: pulumi.Input<pulumi.Resource>[];
}

/** The bucket's name: per project and stack, within Cloud Storage's 63 characters. */
export function backupBucketName(project: string, stack: string): string {
    return resourceId(`${project}-pg-backups-${stack}`, 63);
}

/** The uploading Google service account's id (6-30 characters). */
export function backupServiceAccountId(stack: string): string {
    return resourceId(`pg-backup-${stack}`, 30);
}

/** The uploading Google service account's email; with `projectSetup: bootstrap` the platform uses it by this address. */
export function backupServiceAccountEmail(project: string, stack: string): string {
    return `${backupServiceAccountId(stack)}@${project}.iam.gserviceaccount.com`;
}

/** The one role of the uploading account, on the bucket only: create objects; no read, overwrite or delete. */
export const BACKUP_BUCKET_ROLE = "roles/storage.objectCreator";

/** Workload Identity's name for a Kubernetes service account of the project's clusters (<project>.svc.id.goog). */
export function workloadIdentityMember(project: string, ksa: { readonly namespace: string; readonly name: string }): string {
    return `serviceAccount:${project}.svc.id.goog[${ksa.namespace}/${ksa.name}]`;
}

/** What the bucket's settings depend on; shared with bootstrap/, which creates the same bucket for `projectSetup: bootstrap`. */
export interface BackupBucketSettings {
    readonly project: string;
    readonly region: string;
    /** The platform stack the bucket belongs to. */
    readonly stack: string;
    readonly retentionDays: number;
    readonly noncurrentDays: number;
    readonly forceDestroy: boolean;
}

/** The backup bucket's arguments: private, versioned, backups deleted after the retention period. */
export function backupBucketArgs(settings: BackupBucketSettings): gcp.storage.BucketArgs {
    return {
        project: settings.project,
        name: backupBucketName(settings.project, settings.stack),
        location: settings.region.toUpperCase(),
        storageClass: "STANDARD",
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        versioning: { enabled: true },
        forceDestroy: settings.forceDestroy,
        lifecycleRules: [
            // A live backup older than the retention period is deleted (becomes noncurrent, see below).
            { action: { type: "Delete" }, condition: { age: settings.retentionDays, withState: "LIVE" } },
            // A deleted or overwritten version is gone for good this many days later.
            { action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: settings.noncurrentDays, withState: "ARCHIVED" } },
        ],
        labels: { "part-of": "streaming-platform", stack: resourceId(settings.stack, 63) },
    };
}

/** The uploading Google service account's arguments; shared with bootstrap/. */
export function backupServiceAccountArgs(project: string, stack: string): gcp.serviceaccount.AccountArgs {
    return {
        project,
        accountId: backupServiceAccountId(stack),
        displayName: `PostgreSQL backups of ${stack}`,
        description: "Writes PostgreSQL logical backups to their bucket (Workload Identity of the backup CronJob)",
    };
}

/**
 * A Cloud Storage bucket for PostgreSQL's logical backups and the only identity that may write to it:
 * a Google service account with roles/storage.objectCreator on this bucket alone (create objects; no
 * read, overwrite or delete), which the backup CronJob's Kubernetes service account acts as through
 * Workload Identity. The bucket is private (uniform bucket-level access, public access prevention
 * enforced), versioned, and its lifecycle deletes backups after the retention period.
 */
export class BackupBucket extends pulumi.ComponentResource {
    readonly bucket: gcp.storage.Bucket;
    readonly serviceAccount: gcp.serviceaccount.Account;
    /** The Google service account's email, for the Kubernetes service account's iam.gke.io/gcp-service-account annotation. */
    readonly serviceAccountEmail: pulumi.Output<string>;
    readonly name: pulumi.Output<string>;

    constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:BackupBucket", name, {}, opts);
        const stack = pulumi.getStack();
        this.bucket = new gcp.storage.Bucket(
            name,
            backupBucketArgs({
                project: args.project,
                region: args.region,
                stack,
                retentionDays: args.retentionDays,
                noncurrentDays: args.noncurrentDays,
                forceDestroy: args.forceDestroy,
            }),
            { parent: this, protect: args.protect },
        );
        this.name = this.bucket.name;
        this.serviceAccount = new gcp.serviceaccount.Account(name, backupServiceAccountArgs(args.project, stack), { parent: this });
        this.serviceAccountEmail = this.serviceAccount.email;
        new gcp.storage.BucketIAMMember(
            `${name}-object-creator`,
            { bucket: this.bucket.name, role: BACKUP_BUCKET_ROLE, member: this.serviceAccount.member },
            { parent: this },
        );
        const ksa = args.kubernetesServiceAccount;
        new gcp.serviceaccount.IAMMember(
            `${name}-workload-identity`,
            {
                serviceAccountId: this.serviceAccount.name,
                role: "roles/iam.workloadIdentityUser",
                member: workloadIdentityMember(args.project, ksa),
            },
            { parent: this, dependsOn: args.workloadPoolReady },
        );
        this.registerOutputs({ bucket: this.bucket.name, serviceAccount: this.serviceAccountEmail });
    }
}
