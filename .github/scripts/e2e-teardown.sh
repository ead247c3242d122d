#!/usr/bin/env bash
# Destroys the local stack and checks that nothing is left behind:
#   - `pulumi stack export` holds no resource but the stack itself,
#   - the namespaces kafka, postgresql, spark and airflow are gone,
#   - no PersistentVolumeClaim remains in any namespace.
# Namespaces and claims get TEARDOWN_TIMEOUT_SECONDS (300) to finish terminating, polled every
# TEARDOWN_INTERVAL_SECONDS (5). Reports every problem it finds, then fails if there was one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${STACK:-local}"
timeout="${TEARDOWN_TIMEOUT_SECONDS:-300}"
interval="${TEARDOWN_INTERVAL_SECONDS:-5}"
namespaces=(kafka postgresql spark airflow)
problems=()

cd "$(repo_root)"

if ! pulumi destroy --stack "$stack" --yes --skip-preview; then
  problems+=("pulumi destroy --stack $stack failed")
fi

left="$(pulumi stack export --stack "$stack" | stack_urns all-but-stack)" ||
  left="(pulumi stack export --stack $stack failed)"
if [[ -n "$left" ]]; then
  problems+=("the state still holds:"$'\n'"$left")
fi

# remaining_objects: the platform's namespaces and any claim that still exist. A failed lookup is
# reported as remaining, so an unreachable cluster never passes for a clean one.
remaining_objects() {
  kubectl get namespace "${namespaces[@]}" --ignore-not-found -o name ||
    echo "(kubectl get namespace failed)"
  kubectl get pvc --all-namespaces --no-headers \
    -o custom-columns='NAMESPACE:.metadata.namespace,NAME:.metadata.name' |
    sed 's|^\([^ ]*\)  *|persistentvolumeclaim/\1/|' ||
    echo "(kubectl get pvc failed)"
}

start=$SECONDS
while true; do
  remaining="$(remaining_objects)"
  if [[ -z "$remaining" ]] || ((SECONDS - start >= timeout)); then
    break
  fi
  echo "[$((SECONDS - start))s] still terminating: $(tr '\n' ' ' <<<"$remaining")"
  sleep "$interval"
done
if [[ -n "$remaining" ]]; then
  problems+=("left in the cluster after ${timeout}s:"$'\n'"$remaining")
fi

if ((${#problems[@]} > 0)); then
  printf '%s\n' "${problems[@]}" >&2
  die "teardown of $stack left things behind (see above)"
fi
echo "Stack $stack destroyed; no platform namespace and no PersistentVolumeClaim is left."
