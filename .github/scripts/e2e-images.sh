#!/usr/bin/env bash
# The images of the kind end-to-end, pulled once and loaded into the node, so that no pod pulls from a registry:
#
#   e2e-images.sh list DIR    DIR/images.txt: every image the rendered STACK runs (.github/e2e/images.ts reads
#                             the real rendering, never a hand-kept list) and, with CALICO_VERSION set, every image of
#                             that Calico manifest (the one e2e-cni.sh applies); DIR/python-image.txt: the image the
#                             fake price API runs in. Needs the chart archives (npm run charts:pull) and helm.
#   e2e-images.sh pull DIR    docker pull of each listed image for the runner's platform (KIND_PLATFORM, linux/amd64),
#                             then one `docker save` of them all for that platform into DIR/images.tar (layers the
#                             Bitnami images share are stored once); the pulled copies are removed after. The platform
#                             matters with Docker's containerd image store: a save without it writes every platform's
#                             manifest but only the pulled one's layers, which kind's `ctr import --all-platforms`
#                             refuses (kubernetes-sigs/kind#3795).
#   e2e-images.sh load DIR    `kind load image-archive` of DIR/images.tar into KIND_CLUSTER, then checks that every
#                             listed image is on every node, so a missing one fails here by name, not as a pull later.
#   e2e-images.sh check-pulls fails if the kubelet pulled any image (an event with reason Pulling, which it records only
#                             when the image is not on the node: kubernetes pkg/kubelet/images/image_manager.go
#                             EnsureImageExists). Events live an hour (kube-apiserver --event-ttl), so run it soon after
#                             the pods it is about have started.
#
# Every container of the rendered local stack has imagePullPolicy IfNotPresent, set by the charts or defaulted by the
# API server for a pinned tag (.github/e2e/images.ts refuses a list otherwise, test/e2eImages.test.ts holds it). A reference
# pinned by digest (once helm-values/images.lock.json holds digests) is not always found after a load (the digest
# of a `docker save` archive is not the registry's; kubernetes-sigs/kind#4028): `load` then fails naming it.
# Environment (all optional): STACK (local), CALICO_VERSION, KIND_CLUSTER (streaming), KIND_PLATFORM (linux/amd64).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# images DIR: the listed references, one a line.
images() {
  [[ -s "$1/images.txt" ]] || die "no image list $1/images.txt: run '$0 list $1' first"
  grep -v '^[[:space:]]*$' "$1/images.txt"
}

list() {
  local dir="$1" calico
  mkdir -p "$dir"
  (cd "$(repo_root)" && npx ts-node --transpile-only .github/e2e/images.ts "${STACK:-local}" "$dir")
  if [[ -n "${CALICO_VERSION:-}" ]]; then
    [[ "$CALICO_VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "CALICO_VERSION must be an exact version such as v3.31.3, not $CALICO_VERSION"
    calico="$(curl -fsSL "https://raw.githubusercontent.com/projectcalico/calico/$CALICO_VERSION/manifests/calico.yaml")" ||
      die "could not read the Calico $CALICO_VERSION manifest"
    sed -n 's/^[[:space:]]*\(-[[:space:]]*\)\{0,1\}image:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\).*$/\2/p' <<<"$calico" >>"$dir/images.txt"
  fi
  sort -u -o "$dir/images.txt" "$dir/images.txt"
  echo "$(wc -l <"$dir/images.txt") images:"
  cat "$dir/images.txt"
}

pull() {
  local dir="$1" image platform="${KIND_PLATFORM:-linux/amd64}"
  local -a all
  mapfile -t all < <(images "$dir")
  for image in "${all[@]}"; do
    docker pull --quiet --platform "$platform" "$image" || die "could not pull $image"
  done
  docker save --platform "$platform" --output "$dir/images.tar" "${all[@]}"
  docker image rm "${all[@]}" >/dev/null
  echo "saved ${#all[@]} images to $dir/images.tar ($(du -h "$dir/images.tar" | cut -f1))"
}

load() {
  local dir="$1" cluster="${KIND_CLUSTER:-streaming}" node image
  local -a missing=()
  [[ -f "$dir/images.tar" ]] || die "no archive $dir/images.tar: run '$0 pull $dir' first"
  kind load image-archive "$dir/images.tar" --name "$cluster"
  for node in $(kind get nodes --name "$cluster"); do
    while read -r image; do
      docker exec "$node" crictl inspecti --quiet "$image" >/dev/null 2>&1 || missing+=("$image on $node")
    done < <(images "$dir")
  done
  ((${#missing[@]} == 0)) || die "not on the node after loading: ${missing[*]}"
  echo "every listed image is on the nodes of kind cluster $cluster"
}

check_pulls() {
  local pulled
  pulled="$(kubectl get events --all-namespaces --field-selector reason=Pulling --no-headers \
    -o custom-columns='NAMESPACE:.metadata.namespace,OBJECT:.involvedObject.name,MESSAGE:.message')"
  [[ -z "$pulled" ]] || die "the kubelet pulled images that should have been loaded (e2e-images.sh list misses them?):"$'\n'"$pulled"
  echo "no pod pulled an image"
}

case "${1:-}" in
  list | pull | load)
    [[ -n "${2:-}" ]] || die "usage: $0 $1 DIR"
    "$1" "$2"
    ;;
  check-pulls) check_pulls ;;
  *) die "usage: $0 list DIR | pull DIR | load DIR | check-pulls" ;;
esac
