#!/usr/bin/env bash
# Destroys a GKE stack (dev or prod) completely. One config key guards everything that holds data:
# `deletionProtection` turns on GKE deletion protection on the cluster, Pulumi's `protect` on the
# Kafka and PostgreSQL components, and Retain as the volume retention of their StatefulSets. So:
#   1. sets `deletionProtection false` in this run's working copy of Pulumi.<stack>.yaml only (never
#      committed: the next `pulumi up` from the repository protects prod again);
#   2. runs a full `pulumi up`: the cluster's flag goes off, `protect` is dropped in the state and
#      retention becomes Delete, so the disks go with their releases. No policy pack on this update:
#      it changes only what that key sets, on the program of main, which up.yml ran the pack on;
#   3. if anything is still protected (protect set by something other than the config), lists it and
#      runs `pulumi state unprotect --all` (state only; nothing in the cloud changes);
#   4. `pulumi destroy`, then fails unless the state holds nothing but the stack itself.
# A stack that is already empty is left alone: the update in step 2 would build it all first.
# Expects pulumi-ci-stack.sh to have logged in and selected the stack.
# Usage: pulumi-destroy.sh <stack>
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: pulumi-destroy.sh <stack>}"
cd "$(repo_root)"

# Assigned first: a failing export must stop the script, not read as an empty stack.
deployed="$(pulumi stack export --stack "$stack" | stack_urns all-but-stack)"
if [[ -z "$deployed" ]]; then
  echo "Stack $stack holds no resources; nothing to destroy."
  exit 0
fi

group "Lifting deletion protection (working copy only)"
pulumi config set deletionProtection false --stack "$stack"
pulumi up --stack "$stack" --yes
endgroup

protected="$(pulumi stack export --stack "$stack" | stack_urns protected)"
if [[ -n "$protected" ]]; then
  group "Still protected after the update; removing protect from the state"
  echo "$protected"
  pulumi state unprotect --all --yes --stack "$stack"
  endgroup
fi

pulumi destroy --stack "$stack" --yes

left="$(pulumi stack export --stack "$stack" | stack_urns all-but-stack)"
[[ -z "$left" ]] || die "the state of $stack still holds resources after destroy:"$'\n'"$left"
echo "Stack $stack is empty."
