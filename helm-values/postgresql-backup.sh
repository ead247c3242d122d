#!/bin/sh
# Logical backup of PostgreSQL: one custom-format archive (pg_dump -Fc) per database, written to
# $BACKUP_DIR/<database>/<UTC timestamp>.dump. Run by the postgresql-backup CronJob
# (components/data/postgresqlBackup.ts) with the chart's PostgreSQL image, and by
# pipeline/tests/test_backup_restore.py against a real server: both run this file, so the test
# exercises the job's exact pg_dump command.
#
# Environment: PGHOST, PGPORT, PGUSER, PGPASSWORD (libpq), BACKUP_DATABASES (space-separated names),
# BACKUP_DIR, and optionally BACKUP_KEEP_DAYS: after a successful run, archives in BACKUP_DIR older
# than that many days are deleted (the local volume; on GKE the bucket's lifecycle does that).
set -eu

: "${BACKUP_DATABASES:?space-separated database names}"
: "${BACKUP_DIR:?where the archives go}"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
for database in $BACKUP_DATABASES; do
    mkdir -p "$BACKUP_DIR/$database"
    target="$BACKUP_DIR/$database/$stamp.dump"
    partial="$target.partial"
    # Custom format: compressed, restorable selectively and in parallel with pg_restore. One
    # transaction snapshot per database (pg_dump's default), so each archive is consistent.
    # --lock-wait-timeout: fail instead of queueing behind a long lock (a migration) and blocking others.
    pg_dump --format=custom --compress=6 --no-password --lock-wait-timeout=120s --dbname="$database" --file="$partial"
    # An archive pg_restore cannot read is no backup: fail the run now, not at restore time.
    pg_restore --list "$partial" >/dev/null
    mv "$partial" "$target"
    echo "backed up database $database to $target ($(wc -c <"$target") bytes)"
done

if [ -n "${BACKUP_KEEP_DAYS:-}" ]; then
    find "$BACKUP_DIR" -type f \( -name '*.dump' -o -name '*.dump.partial' \) -mtime +"$BACKUP_KEEP_DAYS" -print -delete
fi
