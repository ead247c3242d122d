#!/usr/bin/env bash
# Prints what is needed to see why the pipeline did not produce ticks: all pods, a description of
# every pod that is not ready, recent events, and the logs of the Airflow scheduler, the Spark
# streaming job and Kafka. Never fails: every command's own failure is printed and skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# show TITLE COMMAND...: runs a command in its own log group; a failure is reported, not fatal.
show() {
  local title="$1"
  shift
  group "$title"
  "$@" || echo "(command failed with exit code $?)"
  endgroup
}

# Pods (namespace name) whose ready count is below their container count, except finished ones.
not_ready_pods() {
  kubectl get pods --all-namespaces --no-headers 2>/dev/null | awk '
    { split($3, ready, "/") }
    ready[1] != ready[2] && $4 != "Completed" { print $1, $2 }'
}

show "Pods" kubectl get pods --all-namespaces -o wide
while read -r namespace pod; do
  [[ -n "$pod" ]] || continue
  show "Describe $namespace/$pod" kubectl -n "$namespace" describe pod "$pod"
done < <(not_ready_pods || true)
show "Events (latest 100)" bash -c 'kubectl get events --all-namespaces --sort-by=.lastTimestamp | tail -n 100'
show "Persistent volume claims" kubectl get pvc --all-namespaces
show "Airflow scheduler logs" kubectl -n airflow logs -l app.kubernetes.io/component=scheduler --all-containers --prefix --tail 200
show "Spark streaming job logs" kubectl -n spark logs deploy/crypto-ticks-stream --all-containers --tail 200
show "Spark master and worker logs" kubectl -n spark logs -l app.kubernetes.io/name=spark --all-containers --prefix --tail 50
show "Kafka logs" kubectl -n kafka logs -l app.kubernetes.io/name=kafka --all-containers --prefix --tail 100
show "Pulumi stack outputs" pulumi stack output --stack local
exit 0
