#!/usr/bin/env bash
# Helpers shared by the scripts in this folder. Source it: source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -euo pipefail

# The repository root (this file lives in .github/scripts/).
repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# Where e2e-kill-driver.sh keeps the killed driver's log and e2e-diagnostics.sh finds it: KILLED_DRIVER_LOG,
# else a file in the runner's temporary folder, which outlives the step.
killed_driver_log() {
  echo "${KILLED_DRIVER_LOG:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/e2e-killed-driver.log}"
}

# The sink's write log (pipeline/spark/stream_ticks.py SINK_WRITE_LOG_TABLE, which the platform never sets):
# e2e-kill-driver.sh turns it on, e2e-check-ticks.sh reads it.
sink_write_log_table() {
  echo "${SINK_WRITE_LOG_TABLE:-crypto_ticks_writes}"
}

# Prints an error (as a GitHub Actions annotation when running in Actions) and exits 1.
die() {
  if [[ -n "${GITHUB_ACTIONS:-}" ]]; then
    echo "::error::$*" >&2
  else
    echo "error: $*" >&2
  fi
  exit 1
}

# Starts and ends a collapsible group in the GitHub Actions log; plain headings elsewhere.
group() {
  if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::group::$*"; else echo "== $*"; fi
}
endgroup() {
  if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::endgroup::"; fi
}

# stack_urns FILTER < export.json
# Prints one URN per line for the resources of a `pulumi stack export` document that match FILTER:
#   all-but-stack  every resource except the stack resource itself
#   protected      resources carrying Pulumi's `protect` flag
stack_urns() {
  # shellcheck disable=SC2016 # the single-quoted text is JavaScript, not shell
  node -e '
    const filter = process.argv[1];
    const text = require("fs").readFileSync(0, "utf8").trim();
    const resources = ((text ? JSON.parse(text) : {}).deployment || {}).resources || [];
    const filters = {
      "all-but-stack": (r) => r.type !== "pulumi:pulumi:Stack",
      "protected": (r) => r.protect === true,
    };
    if (!filters[filter]) {
      console.error(`stack_urns: unknown filter ${filter}`);
      process.exit(2);
    }
    resources.filter(filters[filter]).forEach((r) => console.log(r.urn));
  ' "$1"
}

# stack_setting STACK KEY: the stack's value of the project's config KEY, a list one item per line:
# Pulumi.<STACK>.yaml's value, else the default declared in Pulumi.yaml, else nothing. Read from the files
# (with the program's own yaml package) rather than `pulumi config get`, which does not report project-level
# defaults.
stack_setting() {
  # shellcheck disable=SC2016 # the single-quoted text is JavaScript, not shell
  (cd "$(repo_root)" && node -e '
    const fs = require("fs"), { parse } = require("yaml");
    const [stackName, key] = process.argv.slice(1);
    const stackFile = `Pulumi.${stackName}.yaml`;
    const stack = fs.existsSync(stackFile) ? (parse(fs.readFileSync(stackFile, "utf8")) || {}).config || {} : {};
    const value = stack[`streaming-platform:${key}`] ?? parse(fs.readFileSync("Pulumi.yaml", "utf8")).config[key]?.default;
    [value ?? []].flat().forEach((item) => console.log(item));
  ' "$1" "$2")
}

# stack_symbols STACK: the stack's cryptoSymbols, one per line.
stack_symbols() {
  stack_setting "$1" cryptoSymbols
}

# pg_query SQL: runs SQL in the database PG_DATABASE (pipeline) with psql inside the PostgreSQL pod,
# as the admin user whose password is in the Secret PG_SECRET; prints unaligned, tab-separated rows.
# The password goes only into the pod's environment, never to the log.
pg_query() {
  local namespace="${PG_NAMESPACE:-postgresql}" secret="${PG_SECRET:-postgresql-admin}" password
  password="$(kubectl -n "$namespace" get secret "$secret" -o jsonpath='{.data.postgres-password}' | base64 -d)" || return 1
  [[ -n "$password" ]] || { echo "no password in secret $namespace/$secret"; return 1; }
  kubectl -n "$namespace" exec "${PG_POD:-postgresql-primary-0}" -c postgresql -- \
    env PGPASSWORD="$password" psql -U postgres -d "${PG_DATABASE:-pipeline}" -v ON_ERROR_STOP=1 -X -tA -F $'\t' -c "$1"
}

# sql_symbol_array SYMBOL...: an SQL array literal of the symbols, each checked against the message
# schema's symbol pattern first (so pasting them into SQL is safe).
sql_symbol_array() {
  local symbol quoted=()
  for symbol in "$@"; do
    [[ "$symbol" =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,63}$ ]] || die "not a valid symbol: $symbol"
    quoted+=("'$symbol'")
  done
  local IFS=,
  echo "ARRAY[${quoted[*]}]::text[]"
}
