#!/usr/bin/env bash
# Frees disk on a GitHub-hosted Ubuntu runner for the kind end-to-end: removes preinstalled SDKs and caches no
# step of e2e.yml uses (.NET, Android, GHC, CodeQL, Swift, the Docker images cached on the image), then fails
# unless at least MIN_FREE_GB are free on the filesystem Docker stores kind's node and its images on.
# Environment (all optional): MIN_FREE_GB (30), SDK_DIRS (the directories to remove).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

min_free_gb="${MIN_FREE_GB:-30}"
[[ "$min_free_gb" =~ ^[0-9]+$ ]] || die "MIN_FREE_GB must be a whole number of GB, not $min_free_gb"
read -r -a sdk_dirs <<<"${SDK_DIRS:-/usr/share/dotnet /usr/local/lib/android /opt/ghc /usr/local/.ghcup /opt/hostedtoolcache/CodeQL /usr/share/swift}"

free_gb() { df --output=avail -BG "$(docker info --format '{{.DockerRootDir}}')" | tail -n 1 | tr -dc '0-9'; }

before="$(free_gb)"
for dir in "${sdk_dirs[@]}"; do
  sudo rm -rf "$dir"
done
docker image prune --all --force >/dev/null
after="$(free_gb)"
echo "free disk: ${before} GB before, ${after} GB after"
((after >= min_free_gb)) || die "only ${after} GB free for kind and the platform's images, ${min_free_gb} GB needed"
