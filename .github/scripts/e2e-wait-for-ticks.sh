#!/usr/bin/env bash
# Waits until the pipeline has written ticks: polls `SELECT count(*) FROM crypto_ticks` in the
# database `pipeline`, running psql inside the PostgreSQL pod as the admin user whose password is
# read from the Secret postgresql/postgresql-admin. Succeeds on the first count above zero; fails
# after TIMEOUT_SECONDS. A missing table or a pod that is not up yet counts as "not yet".
# Environment (all optional): TIMEOUT_SECONDS (1200), INTERVAL_SECONDS (20), PG_NAMESPACE
# (postgresql), PG_POD (postgresql-primary-0), PG_SECRET (postgresql-admin), PG_DATABASE (pipeline).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout="${TIMEOUT_SECONDS:-1200}"
interval="${INTERVAL_SECONDS:-20}"
namespace="${PG_NAMESPACE:-postgresql}"
pod="${PG_POD:-postgresql-primary-0}"
secret="${PG_SECRET:-postgresql-admin}"
database="${PG_DATABASE:-pipeline}"
query='SELECT count(*) FROM crypto_ticks'

admin_password() {
  kubectl -n "$namespace" get secret "$secret" -o jsonpath='{.data.postgres-password}' 2>/dev/null | base64 -d
}

start=$SECONDS
password=""
last=""
while true; do
  elapsed=$((SECONDS - start))
  if [[ -z "$password" ]]; then
    password="$(admin_password || true)"
    mask "$password"
  fi
  if [[ -n "$password" ]]; then
    if count="$(kubectl -n "$namespace" exec "$pod" -c postgresql -- env PGPASSWORD="$password" psql -U postgres -d "$database" -tAc "$query" 2>&1)"; then
      count="$(tr -d '[:space:]' <<<"$count")"
    fi
  else
    count="no password yet in secret $namespace/$secret"
  fi
  if [[ "$count" =~ ^[0-9]+$ ]] && ((count > 0)); then
    echo "[${elapsed}s] crypto_ticks has $count rows."
    exit 0
  fi
  last="$(head -c 300 <<<"$count")"
  echo "[${elapsed}s] not yet: ${last:-no answer}"
  if ((elapsed >= timeout)); then
    die "no rows in $database.crypto_ticks after ${timeout}s; last answer: ${last:-none}"
  fi
  sleep "$interval"
done
