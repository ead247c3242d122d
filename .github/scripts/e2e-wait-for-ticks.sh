#!/usr/bin/env bash
# Waits until crypto_ticks (database `pipeline`) has rows for every symbol the stack is configured
# with (cryptoSymbols, see stack_symbols in lib.sh), optionally only rows written after SINCE.
# Succeeds when every symbol has at least one; fails after TIMEOUT_SECONDS naming the symbols still
# missing. A missing table or a pod that is not up yet counts as "not yet".
# Environment (all optional): STACK (local), SINCE (an ISO-8601 instant: count only rows the sink
# inserted or changed after it, i.e. updated_at > SINCE), TIMEOUT_SECONDS (1200), INTERVAL_SECONDS
# (20), and pg_query's PG_NAMESPACE, PG_POD, PG_SECRET, PG_DATABASE.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout="${TIMEOUT_SECONDS:-1200}"
interval="${INTERVAL_SECONDS:-20}"
mapfile -t symbols < <(stack_symbols "${STACK:-local}")
((${#symbols[@]} > 0)) || die "stack ${STACK:-local} has no cryptoSymbols"
since_filter="true"
if [[ -n "${SINCE:-}" ]]; then
  [[ "$SINCE" =~ ^[0-9T:.Z+-]+$ ]] || die "SINCE is not an ISO-8601 instant: $SINCE"
  since_filter="t.updated_at > '$SINCE'::timestamptz"
fi
# One line per configured symbol: symbol<TAB>rows, zero included.
query="SELECT s, count(t.symbol) FROM unnest($(sql_symbol_array "${symbols[@]}")) AS s
       LEFT JOIN crypto_ticks t ON t.symbol = s AND $since_filter GROUP BY s ORDER BY s"

start=$SECONDS
while true; do
  elapsed=$((SECONDS - start))
  missing=()
  if answer="$(pg_query "$query" 2>&1)" && [[ -n "$answer" ]]; then
    while IFS=$'\t' read -r symbol rows; do
      [[ "$rows" =~ ^[0-9]+$ && "$rows" -gt 0 ]] || missing+=("$symbol")
    done <<<"$answer"
    summary="$(tr '\t\n' '= ' <<<"$answer")"
  else
    missing=("${symbols[@]}")
    summary="$(head -c 300 <<<"$answer")"
  fi
  if ((${#missing[@]} == 0)); then
    echo "[${elapsed}s] crypto_ticks has rows${SINCE:+ written after $SINCE} for every symbol: $summary"
    exit 0
  fi
  echo "[${elapsed}s] not yet (no rows for ${missing[*]}): ${summary:-no answer}"
  if ((elapsed >= timeout)); then
    die "no rows${SINCE:+ written after $SINCE} in ${PG_DATABASE:-pipeline}.crypto_ticks for ${missing[*]} after ${timeout}s; last answer: ${summary:-none}"
  fi
  sleep "$interval"
done
