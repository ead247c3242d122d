#!/usr/bin/env bash
# Prints what is needed to see why the pipeline did not produce ticks: all pods, a description of
# every pod that is not ready, recent events, the CNI's pods, Airflow's DAG import errors, the latest
# task log of the DAG crypto_prices, the logs of the Airflow scheduler, the Spark streaming driver
# (Deployment spark/crypto-ticks-stream, its previous container after a crash, and the pod the kill step
# killed), Kafka and the fake price API (e2e-price-api.sh).
# Never fails: every command's own failure is printed and skipped.
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
show "CNI (Calico) pods" kubectl -n kube-system get pods -l k8s-app=calico-node -o wide
show "NetworkPolicies" kubectl get networkpolicies --all-namespaces

# Airflow CLI calls run in a scheduler pod, which parses the DAGs and (LocalExecutor) runs the tasks.
scheduler="$(kubectl -n airflow get pods -l app.kubernetes.io/component=scheduler -o name 2>/dev/null | head -n 1 || true)"
show "Airflow DAG import errors" kubectl -n airflow exec "${scheduler:-pod/no-scheduler-pod}" -- airflow dags list-import-errors
# The newest task log of crypto_prices, in the scheduler or (CeleryExecutor) a worker.
# shellcheck disable=SC2016 # expanded by the shell in the pod
task_log='folder="$(airflow config get-value logging base_log_folder)"
log="$(find "$folder/dag_id=crypto_prices" -name "*.log" -printf "%T@ %p\n" 2>/dev/null | sort -n | tail -n 1 | cut -d" " -f2-)"
if [ -n "$log" ]; then echo "== $log"; tail -n 200 "$log"; else echo "no task log of crypto_prices under $folder"; fi'
for pod in $scheduler $(kubectl -n airflow get pods -l app.kubernetes.io/component=worker -o name 2>/dev/null || true); do
  show "Task log of DAG crypto_prices ($pod)" kubectl -n airflow exec "$pod" -- bash -c "$task_log"
done
show "Airflow scheduler logs" kubectl -n airflow logs -l app.kubernetes.io/component=scheduler --all-containers --prefix --tail 200
show "Spark streaming driver logs" kubectl -n spark logs deploy/crypto-ticks-stream --all-containers --tail 200
show "Spark streaming driver logs, previous container" kubectl -n spark logs deploy/crypto-ticks-stream --all-containers --previous --tail 100
# The pod e2e-kill-driver.sh killed is gone from the API: its log is the copy that script kept.
show "Spark streaming driver logs, the killed pod (kept by e2e-kill-driver.sh)" tail -n 300 "$(killed_driver_log)"
show "Spark master and worker logs" kubectl -n spark logs -l app.kubernetes.io/name=spark --all-containers --prefix --tail 50
show "Kafka logs" kubectl -n kafka logs -l app.kubernetes.io/name=kafka --all-containers --prefix --tail 100
show "Fake price API" kubectl -n "${PRICE_API_NAMESPACE:-e2e-price-api}" logs deployment/price-api --tail 50
show "Pulumi stack outputs" pulumi stack output --stack local
exit 0
