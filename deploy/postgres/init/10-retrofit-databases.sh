#!/bin/sh
# One PostgreSQL server, one role and database per consumer, each with its own password:
#   temporal        -> temporal, temporal_visibility  (Temporal persistence and visibility)
#   retrofit_audit  -> retrofit_audit                 (the hash-chained audit trail)
#   northwind       -> northwind                      (the demo legacy SQL system)
# so a leaked worker credential reaches the audit store, never Temporal's own tables, and the
# demo database cannot touch either.
#
# The postgres image runs this once, when the data volume is first initialised (files in
# /docker-entrypoint-initdb.d). Passwords arrive as environment variables and reach SQL as psql
# variables (:'name' quotes them as literals), never pasted into the statement text.
set -eu

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v temporal_password="$TEMPORAL_DB_PASSWORD" \
    -v audit_password="$AUDIT_DB_PASSWORD" \
    -v northwind_password="$NORTHWIND_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

CREATE ROLE retrofit_audit LOGIN PASSWORD :'audit_password';
CREATE DATABASE retrofit_audit OWNER retrofit_audit;

CREATE ROLE northwind LOGIN PASSWORD :'northwind_password';
CREATE DATABASE northwind OWNER northwind;

-- Nobody but the owner connects to these databases.
REVOKE ALL ON DATABASE temporal, temporal_visibility, retrofit_audit, northwind FROM PUBLIC;
SQL
