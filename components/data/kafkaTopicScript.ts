import * as fs from "fs";
import * as path from "path";

/** helm-values/kafka-topic-reconcile.sh: defines reconcile_topic, the one copy of the reconcile logic. */
export const TOPIC_RECONCILE_SCRIPT = path.resolve(__dirname, "..", "..", "helm-values", "kafka-topic-reconcile.sh");
/** helm-values/kafka-access-reconcile.sh: defines upsert_scram_user and allow. */
export const ACCESS_RECONCILE_SCRIPT = path.resolve(__dirname, "..", "..", "helm-values", "kafka-access-reconcile.sh");

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

/** A SCRAM user whose credential the provisioning Job sets from an environment variable of its own. */
export interface ScramUser {
    readonly name: string;
    /** Environment variable of the Job holding the password (from the kafka-sasl Secret). */
    readonly passwordVariable: string;
}

/** One ALLOW ACL: User:user may do each operation on a topic or a group, named literally or by prefix. */
export interface AclGrant {
    readonly user: string;
    readonly resourceType: "topic" | "group";
    readonly resource: string;
    readonly patternType: "literal" | "prefixed";
    readonly operations: readonly string[];
}

/**
 * The clients' access, run by the provisioning Job after the topics: kafka-access-reconcile.sh, one
 * upsert_scram_user call per client user, then one allow call per grant. Every call is idempotent.
 */
export function accessReconcileScript(users: readonly ScramUser[], grants: readonly AclGrant[]): string {
    const calls = [
        ...users.map((user) => ["upsert_scram_user", user.name, user.passwordVariable]),
        ...grants.map((grant) => ["allow", grant.user, grant.resourceType, grant.resource, grant.patternType, ...grant.operations]),
    ].map((words) => words.map(shellWord).join(" "));
    return [fs.readFileSync(ACCESS_RECONCILE_SCRIPT, "utf8").trimEnd(), "", ...calls].join("\n") + "\n";
}
