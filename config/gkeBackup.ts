import { isFiveFieldCron } from "./backups";
import { ConfigReader } from "./reader";

/** Backup for GKE on a stack with deletionProtection (components/gcp/gkeBackup.ts). */
export interface GkeBackupSettings {
    /** When the BackupPlan backs up the data namespaces: a 5-field cron expression in UTC (config `gkeBackupSchedule`). */
    readonly schedule: string;
    /** Days each Backup is kept before Backup for GKE deletes it (config `gkeBackupRetainDays`). */
    readonly retainDays: number;
}

/** Backup for GKE: backupRetainDays is at most 365 (BackupPlan retentionPolicy). */
export const MAX_GKE_BACKUP_RETAIN_DAYS = 365;

export function readGkeBackup(reader: ConfigReader): Partial<GkeBackupSettings> {
    const schedule = reader.raw("gkeBackupSchedule");
    return {
        schedule:
            // Backup for GKE takes a standard 5-field cron string, no presets such as @daily.
            schedule !== undefined && isFiveFieldCron(schedule)
                ? schedule.trim()
                : reader.reject(
                      "gkeBackupSchedule",
                      schedule,
                      "a 5-field cron expression in UTC such as 0 3 * * * (Backup for GKE takes no presets)",
                  ),
        retainDays: reader.integer("gkeBackupRetainDays", 1, MAX_GKE_BACKUP_RETAIN_DAYS),
    };
}
