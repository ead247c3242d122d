#!/usr/bin/env bash
# Proves that the pipeline lost and duplicated nothing, across the driver kill of e2e-kill-driver.sh.
#
# The assertions are engines/ledger.py's, the ones the engines test makes (`ledger.py check`, which
# says what each problem means); this script only collects its three inputs: every message of the
# topic from its beginning (the topic keeps them for days), each named by the tick_id the DAG stamps
# on it; the rows of crypto_ticks; and the sink's write log (tick_sink.py), every row it inserted or
# changed with the tick that made it. The table's primary key (symbol, event_time) hides a tick
# written twice, the write log does not. Several ticks may share a key (CoinGecko repeats an
# event_time until a price changes) and the newest ingest_time wins, so per key the row must hold the
# newest tick, and per tick there must be at most one write. e2e-kill-driver.sh turns the write log
# on with the hold, before the kill, so only ticks produced after SINCE (the kill) must each have
# their write in it; a tick written twice is a problem whenever it was. Messages keep arriving while
# this runs: rows and writes newer than the newest message read are left out, and the table gets
# CHECK_TIMEOUT_SECONDS to catch up (one trigger interval is enough when nothing is lost). Every
# configured symbol must have ticks, and when SINCE is set some must have been produced after it, or
# the check would prove nothing.
# Environment (all optional): STACK (local), SINCE, SINK_WRITE_LOG_TABLE (lib.sh), CHECK_TIMEOUT_SECONDS (300), INTERVAL_SECONDS
# (20), KAFKA_NAMESPACE (kafka), KAFKA_STATEFULSET (kafka-controller), KAFKA_TOPIC (crypto-ticks),
# KAFKA_SECRET (kafka-sasl), KAFKA_USER (consumer), KAFKA_TLS_SECRET (kafka-tls), KAFKA_GROUP_PREFIX
# (crypto-ticks-stream), KAFKA_IDLE_MS (20000), CLIENT_TIMEOUT_SECONDS (300) and CLIENT_INTERVAL_SECONDS
# (2) for the client pod, pg_query's PG_* variables.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout="${CHECK_TIMEOUT_SECONDS:-300}"
interval="${INTERVAL_SECONDS:-20}"
namespace="${KAFKA_NAMESPACE:-kafka}"
topic="${KAFKA_TOPIC:-crypto-ticks}"
mapfile -t symbols < <(stack_symbols "${STACK:-local}")
write_log="$(sink_write_log_table)"
work="$(mktemp -d)"

# The topic from its beginning, one message value per line: e2e-read-topic.sh in a client pod of its own
# (why not in the broker's container: that script says). The pod runs the broker StatefulSet's image, meets
# Pod Security 'restricted' like every pod of the namespace, and carries the label the kafka chart's
# NetworkPolicy admits clients by (bitnami/charts kafka templates/controller-eligible/networkpolicy.yaml:
# `<fullname>-client: "true"` with networkPolicy.addExternalClientAccess, when allowExternal is false as
# helm-values/kafka.yaml sets it). It reads the consumer's password and the CA from their Secrets as
# mounted files, so neither passes through this script.
image="$(kubectl -n "$namespace" get statefulset "${KAFKA_STATEFULSET:-kafka-controller}" \
  -o jsonpath='{.spec.template.spec.containers[?(@.name=="kafka")].image}')"
[[ -n "$image" ]] || die "no kafka container in statefulset $namespace/${KAFKA_STATEFULSET:-kafka-controller}"
client="e2e-check-ticks-$(date +%s)-$RANDOM"
trap 'kubectl -n "$namespace" delete pod "$client" --ignore-not-found --wait=false >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
# shellcheck disable=SC2016 # the single-quoted text is JavaScript, not shell
node -e '
  const [name, image, script, bootstrap, topic, group, user, saslSecret, tlsSecret, idleMs] = process.argv.slice(1);
  const env = { KAFKA_BOOTSTRAP: bootstrap, KAFKA_TOPIC: topic, KAFKA_GROUP: group, KAFKA_USER: user, KAFKA_IDLE_MS: idleMs,
    KAFKA_PASSWORD_FILE: "/secrets/password", KAFKA_CA_FILE: "/secrets/ca.crt",
    // A client heap far below the limit; kafka-run-class.sh creates LOG_DIR (default under the image).
    KAFKA_HEAP_OPTS: "-Xmx128m", LOG_DIR: "/tmp" };
  const projected = (secret, key, path) => ({ secret: { name: secret, items: [{ key, path }] } });
  console.log(JSON.stringify({
    apiVersion: "v1", kind: "Pod",
    metadata: { name, labels: { "kafka-client": "true", "app.kubernetes.io/name": "e2e-check-ticks" } },
    spec: {
      restartPolicy: "Never", automountServiceAccountToken: false, activeDeadlineSeconds: 600,
      securityContext: { runAsNonRoot: true, runAsUser: 1001, seccompProfile: { type: "RuntimeDefault" } },
      containers: [{
        name: "consumer", image, command: ["bash", "-c", script],
        env: Object.entries(env).map(([name, value]) => ({ name, value })),
        resources: { requests: { cpu: "100m", memory: "384Mi" }, limits: { memory: "384Mi" } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
        volumeMounts: [{ name: "secrets", mountPath: "/secrets", readOnly: true }, { name: "tmp", mountPath: "/tmp" }],
      }],
      volumes: [
        { name: "secrets", projected: { sources: [projected(saslSecret, user + "-password", "password"), projected(tlsSecret, "ca.crt", "ca.crt")] } },
        { name: "tmp", emptyDir: {} },
      ],
    },
  }));
' "$client" "$image" "$(cat "$(dirname "${BASH_SOURCE[0]}")/e2e-read-topic.sh")" "kafka.$namespace.svc.cluster.local:9092" "$topic" \
  "${KAFKA_GROUP_PREFIX:-crypto-ticks-stream}-e2e-check-$(date +%s)-$RANDOM" "${KAFKA_USER:-consumer}" \
  "${KAFKA_SECRET:-kafka-sasl}" "${KAFKA_TLS_SECRET:-kafka-tls}" "${KAFKA_IDLE_MS:-20000}" >"$work/client.json"
kubectl -n "$namespace" apply -f "$work/client.json" >/dev/null
start=$SECONDS
phase=""
until [[ "$phase" == Succeeded || "$phase" == Failed ]]; do
  ((SECONDS - start < ${CLIENT_TIMEOUT_SECONDS:-300})) || die "client pod $namespace/$client not done after ${CLIENT_TIMEOUT_SECONDS:-300}s (phase ${phase:-none})"
  sleep "${CLIENT_INTERVAL_SECONDS:-2}"
  phase="$(kubectl -n "$namespace" get pod "$client" -o jsonpath='{.status.phase}' || true)"
done
kubectl -n "$namespace" logs "$client" >"$work/messages.jsonl"
# The consumer also logs to stderr (which the pod's log holds too): non-JSON lines say how it went.
grep -v '^{' "$work/messages.jsonl" | head -n 20 || true
[[ "$phase" == Succeeded ]] || die "client pod $namespace/$client failed: $(tail -n 20 "$work/messages.jsonl")"
echo "read $(wc -l <"$work/messages.jsonl") messages from topic $topic"

ledger=(python3 "$(repo_root)/engines/ledger.py")
symbol_list="$(IFS=,; echo "${symbols[*]}")"
start=$SECONDS
while true; do
  pg_query "$("${ledger[@]}" sql rows crypto_ticks)" >"$work/rows.tsv" || die "could not read crypto_ticks: $(cat "$work/rows.tsv")"
  pg_query "$("${ledger[@]}" sql writes "$write_log")" >"$work/writes.tsv" ||
    die "could not read the sink's write log $write_log (e2e-kill-driver.sh turns it on): $(cat "$work/writes.tsv")"
  problems="$("${ledger[@]}" check --messages "$work/messages.jsonl" --rows "$work/rows.tsv" --writes "$work/writes.tsv" \
    --symbols "$symbol_list" ${SINCE:+--since "$SINCE" --logged-since "$SINCE"})"
  if [[ -z "$problems" ]]; then
    echo "[$((SECONDS - start))s] every produced tick's key holds its newest tick, and no tick was written twice."
    exit 0
  fi
  if ((SECONDS - start >= timeout)); then
    head -n 50 <<<"$problems" >&2
    die "crypto_ticks does not match the topic after ${timeout}s: $(wc -l <<<"$problems") problems (first 50 above)"
  fi
  echo "[$((SECONDS - start))s] not yet: $(wc -l <<<"$problems") problems, e.g. $(head -n 1 <<<"$problems")"
  sleep "$interval"
done
