#!/usr/bin/env bash
# First start of the PostgreSQL container: the owner role (runs migrations, owns the tables) and
# the app role (owns nothing, so row-level security always applies to it).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE storesync_owner LOGIN PASSWORD '${STORESYNC_OWNER_PASSWORD}' NOSUPERUSER NOBYPASSRLS;
CREATE ROLE storesync_app LOGIN PASSWORD '${STORESYNC_APP_PASSWORD}' NOSUPERUSER NOBYPASSRLS NOINHERIT;
CREATE DATABASE storesync OWNER storesync_owner;
SQL
