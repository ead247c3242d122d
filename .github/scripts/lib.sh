#!/usr/bin/env bash
# Helpers shared by the scripts in this folder. Source it: source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -euo pipefail

# The repository root (this file lives in .github/scripts/).
repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
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

# Hides a value from the GitHub Actions log; a no-op elsewhere.
mask() {
  if [[ -n "${GITHUB_ACTIONS:-}" && -n "$1" ]]; then
    echo "::add-mask::$1"
  fi
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
