#!/usr/bin/env bash
# Prints the value of every message of KAFKA_TOPIC from its beginning, one a line, then exits once
# KAFKA_IDLE_MS pass without a new message. Runs as the command of the short-lived client pod that
# e2e-check-ticks.sh starts from the broker's image (and, in engines/scenario.py, against the engines'
# real broker), never inside the broker's container: there JMX_PORT=5555 is set for the broker, which
# kafka-run-class.sh hands to every JVM it starts, so a second JVM fails with "Port already in use"
# (bitnami/charts#23775, #24709; apache/kafka 4.0.0 bin/kafka-run-class.sh: `if [ $JMX_PORT ]`), and the
# client would share the broker's memory limit. kafka-console-consumer.sh keeps a KAFKA_HEAP_OPTS that is
# set (else -Xmx512M, apache/kafka 4.0.0 bin/kafka-console-consumer.sh): the pod sets a small one.
# It reads as the pipeline's consumer (ACLs: Read on the topic and on groups under its prefix), under
# the fresh group KAFKA_GROUP, over SASL_SSL verifying the broker against the CA in KAFKA_CA_FILE. The
# password comes from a file, never from a command line.
# Environment: KAFKA_BOOTSTRAP, KAFKA_TOPIC, KAFKA_GROUP, KAFKA_USER, KAFKA_PASSWORD_FILE, KAFKA_CA_FILE,
# KAFKA_IDLE_MS (20000); kafka-console-consumer.sh on PATH (the image's /opt/bitnami/kafka/bin).
set -euo pipefail

properties="$(mktemp)"
trap 'rm -f "$properties"' EXIT
chmod 600 "$properties"
# A properties value spans lines with a trailing backslash; the PEM's line breaks do not matter to Kafka.
ca="$(sed -e '$!s/$/ \\/' "$KAFKA_CA_FILE")"
cat >"$properties" <<PROPERTIES
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.certificates=$ca
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_USER" password="$(<"$KAFKA_PASSWORD_FILE")";
PROPERTIES
kafka-console-consumer.sh --bootstrap-server "$KAFKA_BOOTSTRAP" --topic "$KAFKA_TOPIC" --group "$KAFKA_GROUP" \
  --from-beginning --timeout-ms "${KAFKA_IDLE_MS:-20000}" --consumer.config "$properties"
