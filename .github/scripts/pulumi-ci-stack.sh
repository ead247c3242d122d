#!/usr/bin/env bash
# Prepares a GKE stack (dev or prod) for a Pulumi command in CI:
#   1. checks the repository variables the workflow passed in,
#   2. checks that Pulumi.<stack>.yaml carries the committed Cloud KMS secrets provider
#      (written once by `pulumi stack init --secrets-provider`, see docs/ci.md),
#   3. logs in to the self-managed GCS backend and selects the stack,
#   4. sets gcp:project in this run's working copy only. The project is deliberately not
#      committed: the offline tests evaluate the stack files with their own test project.
# Environment: PULUMI_BACKEND_URL (gs://...), PULUMI_SECRETS_PROVIDER (gcpkms://...), GCP_PROJECT,
# and Google credentials from google-github-actions/auth.
# Usage: pulumi-ci-stack.sh <stack>
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stack="${1:?usage: pulumi-ci-stack.sh <stack>}"
root="$(repo_root)"
stack_file="$root/Pulumi.$stack.yaml"

[[ -f "$stack_file" ]] || die "there is no Pulumi.$stack.yaml"
[[ "${PULUMI_BACKEND_URL:-}" == gs://?* ]] ||
  die "PULUMI_BACKEND_URL must be the gs:// URL of the state bucket (repository variable, see docs/ci.md); got '${PULUMI_BACKEND_URL:-}'"
[[ "${PULUMI_SECRETS_PROVIDER:-}" == gcpkms://?* ]] ||
  die "PULUMI_SECRETS_PROVIDER must be a gcpkms:// key URL (repository variable, see docs/ci.md); got '${PULUMI_SECRETS_PROVIDER:-}'"
[[ "${GCP_PROJECT:-}" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] ||
  die "GCP_PROJECT must be a Google Cloud project id (repository variable, see docs/ci.md); got '${GCP_PROJECT:-}'"

committed_provider="$(sed -n 's/^secretsprovider:[[:space:]]*//p' "$stack_file" | tr -d "\"'")"
if [[ -z "$committed_provider" ]] || ! grep -q '^encryptedkey:' "$stack_file"; then
  die "Pulumi.$stack.yaml has no secretsprovider/encryptedkey: initialise the stack once with 'pulumi stack init $stack --secrets-provider \"\$PULUMI_SECRETS_PROVIDER\"' and commit those two lines (docs/ci.md)"
fi
[[ "$committed_provider" == "$PULUMI_SECRETS_PROVIDER" ]] ||
  die "Pulumi.$stack.yaml encrypts with $committed_provider but PULUMI_SECRETS_PROVIDER is $PULUMI_SECRETS_PROVIDER"

cd "$root"
pulumi login "$PULUMI_BACKEND_URL"
pulumi stack select "$stack"
pulumi config set gcp:project "$GCP_PROJECT" --stack "$stack"
