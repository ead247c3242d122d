import { ConfigReader } from "./reader";

/** Logs and UIs that outlive pods: Airflow task logs and Spark event logs (components/gcp/logBucket.ts, components/data/sparkHistory.ts). */
export interface LogSettings {
    /** Log objects older than this many days are deleted by the log bucket's lifecycle rule (GKE stacks). */
    readonly retentionDays: number;
    /** Size of each log volume of a stack without Cloud Storage (local): Airflow's task logs and Spark's event logs, in Gi. */
    readonly volumeSize: string;
}

export function readLogs(reader: ConfigReader): Partial<LogSettings> {
    return {
        retentionDays: reader.integer("logRetentionDays", 1, 3650),
        volumeSize: reader.string("logVolumeSize", /^[1-9][0-9]*Gi$/, "a volume size in Gi such as 2Gi"),
    };
}
