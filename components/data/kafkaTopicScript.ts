import * as fs from "fs";
import * as path from "path";

/** helm-values/kafka-topic-reconcile.sh: defines reconcile_topic, the one copy of the reconcile logic. */
export const TOPIC_RECONCILE_SCRIPT = path.resolve(__dirname, "..", "..", "helm-values", "kafka-topic-reconcile.sh");

export interface ReconciledTopic {
    readonly name: string;
    readonly partitions: number;
    readonly replicationFactor: number;
    /** Topic-level configs (https://kafka.apache.org/documentation/#topicconfigs), applied on every run. */
    readonly config: Readonly<Record<string, string>>;
}

/** A word for bash: as it is when it holds nothing the shell would interpret, else single-quoted. */
export const shellWord = (word: string) => (/^[A-Za-z0-9._=,:/+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/**
 * The bitnami/kafka provisioning Job's postScript: the reconcile_topic function and one call per topic.
 * The chart pastes it into the Job's `/bin/bash -ec` script after its own create commands, so a failed
 * call fails the Job, and with it the Helm hook and the `pulumi up` that ran it.
 */
export function topicReconcileScript(topics: readonly ReconciledTopic[]): string {
    const calls = topics.map((topic) =>
        [
            "reconcile_topic",
            topic.name,
            String(topic.partitions),
            String(topic.replicationFactor),
            ...Object.entries(topic.config).map(([key, value]) => `${key}=${value}`),
        ]
            .map(shellWord)
            .join(" "),
    );
    return [fs.readFileSync(TOPIC_RECONCILE_SCRIPT, "utf8").trimEnd(), "", ...calls].join("\n") + "\n";
}
