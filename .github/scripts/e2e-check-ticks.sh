#!/usr/bin/env bash
# Proves that the pipeline lost and duplicated nothing, across the driver kill of e2e-kill-driver.sh.
#
# What "missing" and "duplicate" mean here: the sink keeps one row per natural key (symbol,
# event_time), the table's primary key (pipeline/spark/schema.sql), and the newest ingest_time wins
# (tick_sink.py). CoinGecko repeats an event_time until a price changes, so several messages may
# share a key; the number of rows is therefore compared with the number of distinct keys produced,
# not with the number of messages. Kafka holds every message the DAG produced (the topic keeps them
# for days), so with all of it read back from the beginning of the topic:
#   missing     a key produced to Kafka that has no row;
#   duplicate   a key with more than one row, or a row whose key was never produced (the same tick
#               written twice under another key, e.g. a shifted time zone or precision);
#   stale       a row older than the newest message for its key (a replay overwrote a newer one).
# Messages keep arriving while this runs: rows newer than the snapshot are left out of the last two
# checks, and the table gets CHECK_TIMEOUT_SECONDS to catch up with the snapshot (one trigger interval
# is enough when nothing is lost). Every configured symbol must have messages, and when SINCE is set
# some must have been produced after it (the kill), or the check would prove nothing.
# Environment (all optional): STACK (local), SINCE, CHECK_TIMEOUT_SECONDS (300), INTERVAL_SECONDS
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

# compare: prints one line per problem (none when the table matches) and a summary line on stderr.
compare() {
  # shellcheck disable=SC2016 # the single-quoted text is JavaScript, not shell
  node -e '
    const fs = require("fs");
    const [messagesFile, rowsFile, since, ...symbols] = process.argv.slice(1);
    const produced = new Map(); // "symbol event_time(ms)" -> newest ingest_time (ms)
    let newest = 0, afterSince = 0;
    for (const line of fs.readFileSync(messagesFile, "utf8").split("\n")) {
      let m;
      try { m = JSON.parse(line); } catch { continue; } // the consumer also prints a summary line
      if (!m || typeof m.symbol !== "string") continue;
      const key = `${m.symbol} ${Date.parse(m.event_time)}`, ingest = Date.parse(m.ingest_time);
      produced.set(key, Math.max(produced.get(key) ?? 0, ingest));
      newest = Math.max(newest, ingest);
      if (since && ingest > Date.parse(since)) afterSince++;
    }
    const rows = new Map(); // key -> [ingest_time (ms)] of every row with that key
    for (const line of fs.readFileSync(rowsFile, "utf8").split("\n").filter(Boolean)) {
      const [symbol, eventMs, ingestMs] = line.split("\t");
      const key = `${symbol} ${Number(eventMs)}`;
      rows.set(key, [...(rows.get(key) ?? []), Number(ingestMs)]);
    }
    const show = (key) => { const [s, t] = key.split(" "); return `${s} ${new Date(Number(t)).toISOString()}`; };
    const problems = [];
    for (const symbol of symbols) {
      if (![...produced.keys()].some((k) => k.startsWith(symbol + " "))) problems.push(`no message for symbol ${symbol} in Kafka`);
    }
    if (since && afterSince === 0) problems.push(`no message produced after ${since}`);
    for (const [key, ingest] of produced) {
      const found = rows.get(key) ?? [];
      if (found.length === 0) problems.push(`missing: ${show(key)}`);
      else if (found.length > 1) problems.push(`duplicate: ${show(key)} has ${found.length} rows`);
      else if (found[0] < ingest) problems.push(`stale: ${show(key)} holds ingest_time ${new Date(found[0]).toISOString()}, Kafka has ${new Date(ingest).toISOString()}`);
    }
    for (const [key, ingests] of rows) {
      if (!produced.has(key) && Math.min(...ingests) <= newest) problems.push(`duplicate: row ${show(key)} matches no message`);
    }
    problems.forEach((p) => console.log(p));
    console.error(`${produced.size} keys in ${symbols.length} symbols produced, ${rows.size} keys in the table, ${problems.length} problems`);
  ' "$@"
}

query="SELECT symbol, (extract(epoch FROM event_time) * 1000)::bigint, (extract(epoch FROM ingest_time) * 1000)::bigint
       FROM crypto_ticks"
start=$SECONDS
while true; do
  pg_query "$query" >"$work/rows.tsv" || die "could not read crypto_ticks: $(cat "$work/rows.tsv")"
  problems="$(compare "$work/messages.jsonl" "$work/rows.tsv" "${SINCE:-}" "${symbols[@]}")"
  if [[ -z "$problems" ]]; then
    echo "[$((SECONDS - start))s] every produced tick is in crypto_ticks exactly once, each the newest version."
    exit 0
  fi
  if ((SECONDS - start >= timeout)); then
    head -n 50 <<<"$problems" >&2
    die "crypto_ticks does not match the topic after ${timeout}s: $(wc -l <<<"$problems") problems (first 50 above)"
  fi
  echo "[$((SECONDS - start))s] not yet: $(wc -l <<<"$problems") problems, e.g. $(head -n 1 <<<"$problems")"
  sleep "$interval"
done
