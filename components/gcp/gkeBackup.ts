import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { resourceId } from "./naming";
import { SECRETS_KEY_ROLE } from "./secretsKey";

/** The namespaces whose volumes hold the platform's data; Backup for GKE backs up these and only these. */
export const GKE_BACKUP_NAMESPACES = ["kafka", "postgresql"] as const;

/** The API Backup for GKE is served by; enabled before the plan is created (`projectSetup: program`). */
export const GKE_BACKUP_API = "gkebackup.googleapis.com";

/** Name of a stack's BackupPlan, unique per project and region (dev and prod may share both). */
export function gkeBackupPlanName(name: string, stack: string): string {
    return resourceId(`${name}-${stack}`, 63);
}

/** The Backup for GKE service agent of a project, which encrypts a plan's backups with its key. */
export const gkeBackupServiceAgent = (projectNumber: string | undefined) =>
    `serviceAccount:service-${projectNumber}@gcp-sa-gkebackup.iam.gserviceaccount.com`;

export interface GkeBackupArgs {
    /** Project of the cluster and the plan (config `gcp:project`). */
    readonly project: pulumi.Input<string>;
    /** Region of the plan: the cluster's region, so no backup crosses regions (config `gcp:region`). */
    readonly region: pulumi.Input<string>;
    /** Id of the cluster, projects/<p>/locations/<l>/clusters/<name>, whose Backup for GKE agent add-on is on. */
    readonly cluster: pulumi.Input<string>;
    /** Namespaces to back up, Secrets and volume data included. */
    readonly namespaces: readonly string[];
    /** 5-field cron in UTC (config `gkeBackupSchedule`). */
    readonly schedule: string;
    /** Days a backup is kept (config `gkeBackupRetainDays`). */
    readonly retainDays: number;
    /**
     * Cloud KMS key (SecretsKey) that encrypts the backups' config part, Secrets included; the Backup for GKE
     * service agent is granted on that key only. Unset: Google-managed encryption.
     */
    readonly encryptionKey?: pulumi.Input<string>;
    /**
     * The service agent's grant on encryptionKey exists already: bootstrap/ made it with the key
     * (`projectSetup: bootstrap`), so the plan names the key and nothing here grants on it.
     */
    readonly encryptionKeyGranted?: boolean;
}

/**
 * A Backup for GKE BackupPlan: a scheduled backup of the data namespaces (their Kubernetes objects, Secrets
 * and persistent volumes), kept for a number of days. Restoring is manual (docs/runbook.md, "Restore from
 * Backup for GKE"). The cluster needs the Backup for GKE agent add-on (GkeClusterArgs.backupAgent).
 */
export class GkeBackup extends pulumi.ComponentResource {
    readonly plan: gcp.gkebackup.BackupPlan;
    /** The service agent's grant on the key, when the backups are encrypted with it. */
    readonly keyGrant?: gcp.kms.CryptoKeyIAMMember;

    constructor(name: string, args: GkeBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("streaming-platform:gcp:GkeBackup", name, {}, opts);
        if (args.encryptionKey !== undefined && !args.encryptionKeyGranted) {
            const project = gcp.organizations.getProjectOutput({ projectId: args.project }, { parent: this });
            this.keyGrant = new gcp.kms.CryptoKeyIAMMember(
                `${name}-agent-key`,
                { cryptoKeyId: args.encryptionKey, role: SECRETS_KEY_ROLE, member: project.number.apply(gkeBackupServiceAgent) },
                { parent: this },
            );
        }
        this.plan = new gcp.gkebackup.BackupPlan(
            name,
            {
                project: args.project,
                location: args.region,
                name: gkeBackupPlanName(name, pulumi.getStack()),
                cluster: args.cluster,
                description: `Daily backup of ${args.namespaces.join(", ")}: objects, Secrets and volumes (streaming-platform ${pulumi.getStack()})`,
                backupConfig: {
                    selectedNamespaces: { namespaces: [...args.namespaces] },
                    includeVolumeData: true,
                    includeSecrets: true,
                    ...(args.encryptionKey !== undefined ? { encryptionKey: { gcpKmsEncryptionKey: args.encryptionKey } } : {}),
                },
                backupSchedule: { cronSchedule: args.schedule },
                retentionPolicy: { backupRetainDays: args.retainDays },
                labels: { platform: "streaming-platform", stack: pulumi.getStack() },
            },
            { parent: this, dependsOn: this.keyGrant ? [this.keyGrant] : [] },
        );
        this.registerOutputs({ plan: this.plan.id });
    }
}
