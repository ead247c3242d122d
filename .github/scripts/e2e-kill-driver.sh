#!/usr/bin/env bash
# Kills the streaming job's driver pod mid-stream (no grace period: a crash, not a shutdown), then
# waits until the Deployment has replaced it with a Ready pod. Prints the instant of the kill on the
# last line of stdout (UTC, ISO-8601), for e2e-wait-for-ticks.sh's SINCE.
# Environment (all optional): JOB_NAMESPACE (spark), JOB_DEPLOYMENT (crypto-ticks-stream),
# RECOVERY_TIMEOUT_SECONDS (600), INTERVAL_SECONDS (5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

namespace="${JOB_NAMESPACE:-spark}"
deployment="${JOB_DEPLOYMENT:-crypto-ticks-stream}"
timeout="${RECOVERY_TIMEOUT_SECONDS:-600}"
interval="${INTERVAL_SECONDS:-5}"
selector="app=$deployment"

# ready_pods: "name ready" per running driver pod, ready being true or false.
ready_pods() {
  kubectl -n "$namespace" get pods -l "$selector" --no-headers \
    -o custom-columns='NAME:.metadata.name,READY:.status.containerStatuses[0].ready,DELETING:.metadata.deletionTimestamp' |
    awk '$3 == "<none>" { print $1, $2 }'
}

victim="$(ready_pods | awk '$2 == "true" { print $1; exit }')"
[[ -n "$victim" ]] || die "no Ready pod of deployment $namespace/$deployment to kill"
killed_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
kubectl -n "$namespace" delete pod "$victim" --grace-period=0 --force --wait=false
echo "killed driver pod $victim at $killed_at"

start=$SECONDS
while true; do
  replacement="$(ready_pods | awk -v victim="$victim" '$1 != victim && $2 == "true" { print $1; exit }')"
  if [[ -n "$replacement" ]]; then
    echo "[$((SECONDS - start))s] deployment $namespace/$deployment recovered: $replacement is Ready"
    break
  fi
  if ((SECONDS - start >= timeout)); then
    die "deployment $namespace/$deployment has no Ready pod ${timeout}s after $victim was killed"
  fi
  sleep "$interval"
done
echo "$killed_at"
