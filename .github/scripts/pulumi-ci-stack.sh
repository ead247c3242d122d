#!/usr/bin/env bash
# Prepares a GKE stack (dev or prod) for a Pulumi command in CI:
#   1. checks the repository variables the workflow passed in,
#   2. checks that Pulumi.<stack>.yaml carries the committed Cloud KMS secrets provider, and that it is
#      this stack's own key in this project (pulumi-secrets-<stack>, made by bootstrap/; docs/ci.md),
#   3. logs in to the self-managed GCS backend and selects the stack,
#   4. sets, in this run's working copy only, gcp:project and projectSetup=bootstrap: CI's identities
#      cannot create service accounts, role bindings, repositories or APIs, bootstrap/ made them. Neither
#      is committed: the offline tests evaluate the stack files with their own test project, and a stack
#      deployed without bootstrap/ keeps projectSetup: program,
#   5. with chartRepository in Artifact Registry (README "Images and charts in your own project"), makes gcloud
#      Docker's credential helper for its host: the Kubernetes provider pulls each release's chart with Helm's
#      registry client, which falls back to Docker's credentials (helm v3.18.6, the Helm pulumi-kubernetes embeds,
#      pkg/registry/client.go NewClient: NewStoreWithFallbacks(store, dockerStore)), so each pull, whether the
#      provider checks, creates or updates a release, gets a fresh token of this job's identity. Another registry
#      needs a login of its own before this script.
# Environment: PULUMI_BACKEND_URL (gs://...), GCP_PROJECT, and Google credentials from google-github-actions/auth.
# Usage: pulumi-ci-stack.sh <stack>
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: pulumi-ci-stack.sh <stack>}"
root="$(repo_root)"
stack_file="$root/Pulumi.$stack.yaml"

[[ "$stack" =~ ^[a-z][a-z0-9-]*$ && -f "$stack_file" ]] || die "there is no Pulumi.$stack.yaml"
[[ "${PULUMI_BACKEND_URL:-}" == gs://?* ]] ||
  die "PULUMI_BACKEND_URL must be the gs:// URL of the state bucket (repository variable, see docs/ci.md); got '${PULUMI_BACKEND_URL:-}'"
[[ "${GCP_PROJECT:-}" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] ||
  die "GCP_PROJECT must be a Google Cloud project id (repository variable, see docs/ci.md); got '${GCP_PROJECT:-}'"

expected="gcpkms://projects/$GCP_PROJECT/locations/<region>/keyRings/pulumi/cryptoKeys/pulumi-secrets-$stack"
committed_provider="$(sed -n 's/^secretsprovider:[[:space:]]*//p' "$stack_file" | tr -d "\"'")"
if [[ -z "$committed_provider" ]] || ! grep -q '^encryptedkey:' "$stack_file"; then
  die "Pulumi.$stack.yaml has no secretsprovider/encryptedkey: initialise the stack once with 'pulumi stack init $stack --secrets-provider \"<bootstrap output secretsProviders.$stack>\"' and commit those two lines (docs/ci.md)"
fi
[[ "$committed_provider" =~ ^gcpkms://projects/${GCP_PROJECT}/locations/[a-z0-9-]+/keyRings/pulumi/cryptoKeys/pulumi-secrets-${stack}$ ]] ||
  die "Pulumi.$stack.yaml encrypts with $committed_provider, not with the stack's own key $expected (bootstrap output secretsProviders.$stack; docs/ci.md)"

cd "$root"
pulumi login "$PULUMI_BACKEND_URL"
pulumi stack select "$stack"
pulumi config set gcp:project "$GCP_PROJECT" --stack "$stack"
pulumi config set projectSetup bootstrap --stack "$stack"

chart_repository="$(stack_setting "$stack" chartRepository)"
if [[ "$chart_repository" =~ ^oci://([a-z0-9-]+-docker\.pkg\.dev)/ ]]; then
  gcloud auth configure-docker "${BASH_REMATCH[1]}" --quiet
fi
