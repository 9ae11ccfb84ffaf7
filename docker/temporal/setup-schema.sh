#!/bin/sh
# One-shot schema job for the Compose stack (runs in temporalio/admin-tools, busybox sh).
# Creates the `temporal` and `temporal_visibility` databases on PostgreSQL and brings their
# schemas to the version the admin-tools image ships, which is the server's version (both
# images are pinned to one TEMPORAL_VERSION in compose.yaml).
#
# Idempotent, so `docker compose up` may run it on every start: `create` ignores an existing
# database, `setup-schema -v 0.0` skips a database whose version is already above 0.0, and
# `update-schema` applies only the versions not yet applied.
#
# Reads POSTGRES_SEEDS, DB_PORT, POSTGRES_USER and SQL_PASSWORD (temporal-sql-tool takes the
# password from SQL_PASSWORD, so it never appears on a command line).
set -eu

: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required}"
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_ROOT="${SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"
MAX_ATTEMPTS="${SCHEMA_WAIT_ATTEMPTS:-30}"

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}"
attempt=1
until nc -z -w 5 "${POSTGRES_SEEDS}" "${DB_PORT}"; do
  if [ "${attempt}" -ge "${MAX_ATTEMPTS}" ]; then
    echo "PostgreSQL did not answer after ${MAX_ATTEMPTS} attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "${POSTGRES_SEEDS}" -p "${DB_PORT}" \
    -u "${POSTGRES_USER}" "$@"
}

setup_database() {
  database="$1"
  versioned_dir="$2"
  echo "database ${database}: create, setup-schema -v 0.0, update-schema -d ${versioned_dir}"
  sql_tool --db "${database}" create
  sql_tool --db "${database}" setup-schema -v 0.0
  sql_tool --db "${database}" update-schema -d "${versioned_dir}"
}

setup_database temporal "${SCHEMA_ROOT}/temporal/versioned"
setup_database temporal_visibility "${SCHEMA_ROOT}/visibility/versioned"
echo "Temporal schema is up to date"
