# shellcheck shell=bash
# Topic reconciliation for the bitnami/kafka provisioning Job. components/data/kafkaTopicScript.ts
# appends one `reconcile_topic` call per topic and passes the result as provisioning.postScript, which
# the chart (32.4.3, templates/provisioning/job.yaml) pastes into the container's `/bin/bash -ec`
# script after its own `--create --if-not-exists` commands. The container has KAFKA_SERVICE (the
# bootstrap server) in its environment; its init container writes the client config (SASL) to
# /shared/client.properties.
#
# reconcile_topic NAME PARTITIONS REPLICATION_FACTOR [KEY=VALUE...]
#   Creates the topic when it is missing, raises its partition count when it has fewer, refuses a
#   decrease (Kafka cannot remove partitions), and applies the KEY=VALUE topic configs on every run.
#   Idempotent; any failed command fails the function, and so the Job.
#   Call it as a plain command: in `if`, `&&` or `||` bash would ignore errors inside it.

# The body is a subshell so its shell options stay its own.
reconcile_topic() (
    set -euo pipefail
    local topic="$1" partitions="$2" replication="$3"
    shift 3
    local configs=("$@")
    local client=(--bootstrap-server "${KAFKA_SERVICE:?KAFKA_SERVICE is not set}" --command-config /shared/client.properties)
    # Where the image keeps the tools, behind anything already on PATH.
    PATH="$PATH:/opt/bitnami/kafka/bin"
    # kafka-topics.sh reads --topic as a regular expression for --describe and --alter; topic names
    # are letters, digits, '.', '_' and '-', so escaping '.' makes it match this topic alone.
    local pattern="${topic//./\\.}"

    local description
    description="$(kafka-topics.sh "${client[@]}" --describe --if-exists --topic "$pattern")"
    local line current="" current_replication=""
    while IFS= read -r line; do
        # The topic's summary line: "Topic: <name><TAB>TopicId: ...<TAB>PartitionCount: N<TAB>ReplicationFactor: R<TAB>Configs: ..."
        if [[ "$line" =~ ^Topic:[[:space:]]*([^[:space:]]+)[[:space:]].*PartitionCount:[[:space:]]*([0-9]+).*ReplicationFactor:[[:space:]]*([0-9]+) ]] \
            && [[ "${BASH_REMATCH[1]}" == "$topic" ]]; then
            current="${BASH_REMATCH[2]}"
            current_replication="${BASH_REMATCH[3]}"
        fi
    done <<<"$description"

    if [[ -z "$current" ]]; then
        if [[ -n "$description" ]]; then
            echo "Cannot read the partition count of topic $topic from kafka-topics.sh --describe:" >&2
            echo "$description" >&2
            return 1
        fi
        echo "Creating topic $topic with $partitions partitions, replication factor $replication"
        local create_config=() entry
        for entry in "${configs[@]}"; do
            create_config+=(--config "$entry")
        done
        kafka-topics.sh "${client[@]}" --create --if-not-exists --topic "$topic" \
            --partitions "$partitions" --replication-factor "$replication" "${create_config[@]}"
    elif ((current < partitions)); then
        echo "Topic $topic: raising partitions from $current to $partitions"
        kafka-topics.sh "${client[@]}" --alter --topic "$pattern" --partitions "$partitions"
    elif ((current > partitions)); then
        echo "Topic $topic has $current partitions; streaming-platform:kafkaTopicPartitions asks for $partitions, and Kafka cannot remove partitions. Set streaming-platform:kafkaTopicPartitions to $current or more." >&2
        return 1
    else
        echo "Topic $topic already has $partitions partitions"
    fi
    if [[ -n "$current_replication" && "$current_replication" != "$replication" ]]; then
        echo "Warning: topic $topic keeps replication factor $current_replication (requested $replication); kafka-topics.sh cannot change it, use kafka-reassign-partitions.sh (docs/runbook.md)" >&2
    fi

    if ((${#configs[@]} > 0)); then
        local joined
        joined="$(IFS=,; echo "${configs[*]}")"
        echo "Topic $topic: applying config $joined"
        kafka-configs.sh "${client[@]}" --alter --entity-type topics --entity-name "$topic" --add-config "$joined"
    fi
)
