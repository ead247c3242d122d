#!/bin/sh
# Uploads the archives postgresql-backup.sh wrote ($BACKUP_DIR/<database>/<timestamp>.dump) to
# gs://$BACKUP_BUCKET/<database>/<timestamp>.dump with the Cloud Storage JSON API (simple upload),
# authenticated by Workload Identity: the GKE metadata server hands out an access token of the Google
# service account the pod's Kubernetes service account is bound to. Run by the postgresql-backup
# CronJob's main container (bitnamilegacy/os-shell, which has curl) after the dump's init container.
#
# ifGenerationMatch=0: an existing object is never overwritten (and the service account may only
# create objects). METADATA_URL and STORAGE_URL exist for pipeline/tests/test_backup_restore.py.
set -eu

: "${BACKUP_BUCKET:?the bucket}"
: "${BACKUP_DIR:?where the archives are}"
metadata=${METADATA_URL:-http://metadata.google.internal/computeMetadata/v1}
storage=${STORAGE_URL:-https://storage.googleapis.com}

# The token goes to curl in a header file, never on a command line other processes could read.
headers=$(mktemp)
trap 'rm -f "$headers"' EXIT
# --retry-connrefused: the GKE metadata server can need a few seconds for a new pod.
token=$(curl --silent --show-error --fail --retry 5 --retry-connrefused --max-time 30 \
    -H "Metadata-Flavor: Google" "$metadata/instance/service-accounts/default/token" |
    sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
    echo "no access token from the metadata server: is the service account bound (Workload Identity)?" >&2
    exit 1
fi
printf 'Authorization: Bearer %s\nContent-Type: application/octet-stream\n' "$token" >"$headers"

uploaded=0
for file in "$BACKUP_DIR"/*/*.dump; do
    [ -f "$file" ] || continue
    database=$(basename "$(dirname "$file")")
    name=$(basename "$file")
    # Object names are <database>/<timestamp>.dump: lowercase names and digits, only the slash needs encoding.
    curl --silent --show-error --fail --retry 3 --max-time 3600 -X POST -H @"$headers" --upload-file "$file" \
        "$storage/upload/storage/v1/b/$BACKUP_BUCKET/o?uploadType=media&ifGenerationMatch=0&name=$database%2F$name" >/dev/null
    echo "uploaded $file to gs://$BACKUP_BUCKET/$database/$name"
    uploaded=$((uploaded + 1))
done
if [ "$uploaded" -eq 0 ]; then
    echo "no archive in $BACKUP_DIR to upload" >&2
    exit 1
fi
