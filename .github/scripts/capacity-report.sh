#!/usr/bin/env bash
# Runs the capacity and cost report for a stack as markdown and writes it, with a heading and a
# link to this run, to the given file for the pull request comment. Exits with the report's own
# status: non-zero when the stack does not fit its node pool. The file is written either way, so the
# workflow can post it before failing.
# Usage: capacity-report.sh <stack> <output.md>
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: capacity-report.sh <stack> <output.md>}"
out="${2:?usage: capacity-report.sh <stack> <output.md>}"
run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
[[ "$out" == /* ]] || out="$PWD/$out"

cd "$(repo_root)"
status=0
npm run --silent report -- "$stack" --markdown >"$report" || status=$?

{
  echo "### Capacity and cost: \`$stack\`"
  echo
  if [[ -s "$report" ]]; then
    cat "$report"
  else
    echo "The report printed nothing."
  fi
  echo
  if ((status != 0)); then
    echo "**The report failed (exit $status): the stack does not fit as configured, or the report broke.** [Run log]($run_url)"
  else
    echo "<sub>[Run log]($run_url)</sub>"
  fi
} >"$out"
cat "$out"
# Also on the run's summary page, where it survives when the comment cannot be posted.
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  cat "$out" >>"$GITHUB_STEP_SUMMARY"
fi
exit "$status"
