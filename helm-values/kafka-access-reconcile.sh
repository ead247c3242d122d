# shellcheck shell=bash disable=SC2030,SC2031 # each function's body is a subshell, PATH included
# Client credentials and ACLs for the bitnami/kafka provisioning Job. components/data/kafkaTopicScript.ts
# appends one call per user and per grant after reconcile_topic (kafka-topic-reconcile.sh) and passes the
# result as provisioning.postScript, run by the chart's `/bin/bash -ec` script as the topic admin, a
# super user (components/data/kafka.ts), over the client listener with /shared/client.properties.
#
# upsert_scram_user NAME PASSWORD_VARIABLE
#   Sets NAME's SCRAM-SHA-512 credential to the password in the environment variable PASSWORD_VARIABLE
#   (the Job's env, from the kafka-sasl Secret). Kafka formats SCRAM users into the metadata log only when
#   a cluster is created; this gives a user added later, or a rotated password, its credential on the
#   next deployment. Idempotent.
#
# allow NAME RESOURCE_TYPE RESOURCE PATTERN_TYPE OPERATION...
#   Adds an ALLOW ACL for User:NAME on the RESOURCE_TYPE (topic or group) RESOURCE, matched as
#   PATTERN_TYPE (literal or prefixed), for each OPERATION (Read, Write, Describe, ...), from any host.
#   kafka-acls.sh --add leaves an existing ACL as it is, so every run may add them all again.
#
# Any failed command fails the function, and so the Job. Call them as plain commands.

upsert_scram_user() (
    set -euo pipefail
    local user="$1" variable="$2"
    local password="${!variable:?$variable is not set}"
    PATH="$PATH:/opt/bitnami/kafka/bin"
    echo "SCRAM user $user: setting its SCRAM-SHA-512 credential"
    kafka-configs.sh --bootstrap-server "${KAFKA_SERVICE:?KAFKA_SERVICE is not set}" --command-config /shared/client.properties \
        --alter --entity-type users --entity-name "$user" --add-config "SCRAM-SHA-512=[iterations=8192,password=$password]"
)

allow() (
    set -euo pipefail
    local user="$1" type="$2" resource="$3" pattern="$4"
    shift 4
    if [[ "$type" != topic && "$type" != group ]]; then
        echo "allow: resource type $type is neither topic nor group" >&2
        return 1
    fi
    if [[ "$pattern" != literal && "$pattern" != prefixed ]]; then
        echo "allow: pattern type $pattern is neither literal nor prefixed" >&2
        return 1
    fi
    if (($# == 0)); then
        echo "allow: no operation for User:$user on $type $resource" >&2
        return 1
    fi
    local operations=() operation
    for operation in "$@"; do
        operations+=(--operation "$operation")
    done
    PATH="$PATH:/opt/bitnami/kafka/bin"
    echo "ACL: User:$user may $* on $type $resource ($pattern)"
    kafka-acls.sh --bootstrap-server "${KAFKA_SERVICE:?KAFKA_SERVICE is not set}" --command-config /shared/client.properties \
        --add --allow-principal "User:$user" "${operations[@]}" "--$type" "$resource" --resource-pattern-type "$pattern"
)
