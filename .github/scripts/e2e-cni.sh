#!/usr/bin/env bash
# Installs Calico, at a pinned version, into a kind cluster created without its default CNI
# (.github/kind/streaming.yaml), and waits until it is running and every node is Ready: only then do
# pods start, with NetworkPolicies enforced as on GKE Dataplane V2.
# v3.31 is the first minor whose system requirements list Kubernetes 1.35, the kind node's version
# (.github/kind/streaming.yaml; docs.tigera.io/calico/3.31/getting-started/kubernetes/requirements, and
# projectcalico discussion #11717: v3.29 is tested against 1.29-1.32 only).
# Environment (all optional): CALICO_VERSION (v3.31.3), CNI_TIMEOUT (300s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version="${CALICO_VERSION:-v3.31.3}"
timeout="${CNI_TIMEOUT:-300s}"
[[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "CALICO_VERSION must be an exact version such as v3.29.3, not $version"

kubectl apply -f "https://raw.githubusercontent.com/projectcalico/calico/$version/manifests/calico.yaml"
kubectl -n kube-system rollout status daemonset/calico-node --timeout "$timeout"
kubectl -n kube-system rollout status deployment/calico-kube-controllers --timeout "$timeout"
kubectl wait --for=condition=Ready nodes --all --timeout "$timeout"
echo "Calico $version is running; NetworkPolicies are enforced."
