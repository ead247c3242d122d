import { ConfigReader } from "./reader";

/** PostgreSQL logical backups (components/data/postgresqlBackup.ts). */
export interface BackupSettings {
    /** When the backup CronJob runs: a 5-field cron expression in UTC, or a Kubernetes preset such as @daily. */
    readonly schedule: string;
    /** Backups older than this many days are deleted (the bucket's lifecycle rule on GKE, the job itself on local). */
    readonly retentionDays: number;
    /** An overwritten or deleted backup's previous version is kept this many days (GKE: the bucket is versioned). */
    readonly noncurrentDays: number;
    /** Size of the backup volume of a stack without Cloud Storage (local), in Gi. */
    readonly volumeSize: string;
}

/** The presets a CronJob's schedule accepts (Kubernetes CronJob documentation, "Schedule syntax"). */
const PRESETS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
/** One cron field: numbers, *, ranges, lists, steps, and month or weekday names. */
const CRON_FIELD = /^(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?)*$/;

/** A standard 5-field cron expression (no presets). */
export function isFiveFieldCron(value: string): boolean {
    const fields = value.trim().split(/\s+/);
    return fields.length === 5 && fields.every((field) => CRON_FIELD.test(field));
}

/** What a CronJob's schedule accepts: a 5-field expression or a preset. */
const isCronSchedule = (value: string): boolean => PRESETS.includes(value.trim()) || isFiveFieldCron(value);

export function readBackups(reader: ConfigReader): Partial<BackupSettings> {
    const schedule = reader.raw("backupSchedule");
    return {
        schedule:
            schedule !== undefined && isCronSchedule(schedule)
                ? schedule
                : reader.reject("backupSchedule", schedule, "a 5-field cron expression such as 0 2 * * * (UTC) or a preset such as @daily"),
        retentionDays: reader.integer("backupRetentionDays", 1, 3650),
        noncurrentDays: reader.integer("backupNoncurrentDays", 1, 365),
        volumeSize: reader.string("backupVolumeSize", /^[1-9][0-9]*Gi$/, "a volume size in Gi such as 5Gi"),
    };
}
