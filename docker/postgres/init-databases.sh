#!/bin/bash
# Runs once, when the postgres container initialises an empty data volume
# (/docker-entrypoint-initdb.d). Creates the MCP server's own role and database: `nutrisense`,
# owned by the `nutrisense` role, so the MCP server never holds the superuser's password.
# Temporal's databases (`temporal`, `temporal_visibility`) are created by the schema job.
#
# Changing NUTRISENSE_DB_PASSWORD later has no effect on an existing volume: run
# `ALTER ROLE nutrisense PASSWORD '...'` or start from a fresh volume (`docker compose down -v`).
set -euo pipefail

: "${NUTRISENSE_DB_PASSWORD:?NUTRISENSE_DB_PASSWORD is required}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB:-postgres}" \
  -v nutrisense_password="${NUTRISENSE_DB_PASSWORD}" <<'EOSQL'
CREATE ROLE nutrisense LOGIN PASSWORD :'nutrisense_password';
CREATE DATABASE nutrisense OWNER nutrisense;
EOSQL
