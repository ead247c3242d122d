#!/usr/bin/env bash
# Kills the streaming job's driver pod while a batch is in flight, then waits until the Deployment's
# replacement is Ready and has run that batch again writing none of its rows a second time. Prints the
# instant of the kill on the last line of stdout (UTC, ISO-8601 with milliseconds), for
# e2e-wait-for-ticks.sh's SINCE.
#
# A batch takes milliseconds every trigger interval, so a kill at a random instant almost never lands in
# one. The sink holds a batch open for fault tests only (stream_ticks.py SINK_HOLD_FILE, which the platform
# never sets): while that file exists, a batch whose rows are committed to PostgreSQL waits before Spark
# records it as done. This script sets the variable on the Deployment (a rollout: a driver of its own), creates
# the file in the driver, waits until the sink logged a batch (which is then held), and kills the pod with no
# grace period: a crash, not a shutdown. The replacement finds the batch in Spark's offset log but not in its
# commit log and runs it again (apache/spark v4.0.0 MicroBatchExecution.populateStartOffsets); the upsert
# must write none of its rows. The killed driver stays held until the kubelet ends it, so every row written
# after the kill is the replacement's. Its log is kept, from its start until it dies, in KILLED_DRIVER_LOG
# (e2e-diagnostics.sh prints it). Batches are read from the drivers' logs by engines/ledger.py, as the
# engines test reads them. The same rollout turns on the sink's write log (stream_ticks.py
# SINK_WRITE_LOG_TABLE, off in the platform), every write with the tick that made it, which
# e2e-check-ticks.sh reads: the writes of both drivers around the kill are in it.
# Environment (all optional): JOB_NAMESPACE (spark), JOB_DEPLOYMENT (crypto-ticks-stream), SINK_WRITE_LOG_TABLE
# (lib.sh sink_write_log_table), KILLED_DRIVER_LOG
# (lib.sh killed_driver_log), ROLLOUT_TIMEOUT_SECONDS (420), HOLD_TIMEOUT_SECONDS (240),
# RECOVERY_TIMEOUT_SECONDS (420), REPLAY_TIMEOUT_SECONDS (120), INTERVAL_SECONDS (5): at most 20 minutes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

namespace="${JOB_NAMESPACE:-spark}"
deployment="${JOB_DEPLOYMENT:-crypto-ticks-stream}"
interval="${INTERVAL_SECONDS:-5}"
selector="app=$deployment"
hold_file=/tmp/e2e-hold-written-batch
killed_log="$(killed_driver_log)"

# ready_pods: "name ready" per running driver pod, ready being true or false.
ready_pods() {
  kubectl -n "$namespace" get pods -l "$selector" --no-headers \
    -o custom-columns='NAME:.metadata.name,READY:.status.containerStatuses[0].ready,DELETING:.metadata.deletionTimestamp' |
    awk '$3 == "<none>" { print $1, $2 }'
}

# batches POD: "id received malformed duplicates written" per batch the pod's driver logged.
batches() {
  kubectl -n "$namespace" logs "$1" -c driver | python3 "$(repo_root)/engines/ledger.py" batches
}

# until_true SECONDS WHAT COMMAND...: runs COMMAND every INTERVAL_SECONDS until it succeeds; dies after SECONDS.
until_true() {
  local timeout="$1" what="$2" start=$SECONDS
  shift 2
  until "$@"; do
    ((SECONDS - start < timeout)) || die "$what: not after ${timeout}s"
    sleep "$interval"
  done
}

kubectl -n "$namespace" set env "deployment/$deployment" -c driver "SINK_HOLD_FILE=$hold_file" \
  "SINK_WRITE_LOG_TABLE=$(sink_write_log_table)"
kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout "${ROLLOUT_TIMEOUT_SECONDS:-420}s"
victim="$(ready_pods | awk '$2 == "true" { print $1; exit }')"
[[ -n "$victim" ]] || die "no Ready pod of deployment $namespace/$deployment to kill"

kubectl -n "$namespace" logs -f "$victim" -c driver >"$killed_log" 2>&1 &
follower=$!
trap 'kill "$follower" 2>/dev/null || true' EXIT
before="$(batches "$victim" | awk '{ print $1 }')"
kubectl -n "$namespace" exec "$victim" -c driver -- touch "$hold_file"
held_batch() {
  held="$(batches "$victim" | awk -v before=" $(tr '\n' ' ' <<<"$before")" 'index(before, " " $1 " ") == 0 { print; exit }')"
  [[ -n "$held" ]]
}
until_true "${HOLD_TIMEOUT_SECONDS:-240}" "a batch of $victim after its hold was set" held_batch
read -r batch received _ _ written <<<"$held"
((received > 0)) || die "the held batch $batch of $victim read no rows: a kill in it would prove nothing"
echo "driver pod $victim holds batch $batch: received=$received written=$written"

# In milliseconds: the held batch's rows were committed a moment before, and must not count as written after.
killed_at="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
kubectl -n "$namespace" delete pod "$victim" --grace-period=0 --force --wait=false
echo "killed driver pod $victim at $killed_at"

replacement_ready() {
  replacement="$(ready_pods | awk -v victim="$victim" '$1 != victim && $2 == "true" { print $1; exit }')"
  [[ -n "$replacement" ]]
}
until_true "${RECOVERY_TIMEOUT_SECONDS:-420}" "a Ready pod of deployment $namespace/$deployment after $victim was killed" replacement_ready
echo "deployment $namespace/$deployment recovered: $replacement is Ready"
replayed() {
  again="$(batches "$replacement" | awk -v batch="$batch" '$1 == batch { print; exit }')"
  [[ -n "$again" ]]
}
until_true "${REPLAY_TIMEOUT_SECONDS:-120}" "batch $batch run again by $replacement" replayed
read -r _ received _ _ written <<<"$again"
((written == 0)) || die "$replacement ran batch $batch again and wrote $written of its $received rows a second time"
echo "$replacement ran batch $batch again: received=$received written=0"
# The follower ends when the killed container's log does, long before this as a rule: a bounded wait for it.
for _ in {1..30}; do
  kill -0 "$follower" 2>/dev/null || break
  sleep 1
done
echo "$killed_at"
