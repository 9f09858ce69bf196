#!/bin/sh
# Temporal's schema, on PostgreSQL, for persistence (`temporal`) and visibility
# (`temporal_visibility`). Runs in temporalio/admin-tools before the server starts (docker-compose
# `temporal-schema`, a one-shot service the server waits for). The databases themselves are
# created by deploy/postgres/init (one role per consumer), so this only installs and upgrades
# the schema:
#   setup-schema -v 0.0   creates the version bookkeeping on a fresh database (a no-op after that);
#   update-schema         applies every versioned migration this Temporal release ships that the
#                         database does not have yet — so upgrading the image upgrades the schema.
# The password comes from SQL_PASSWORD, which temporal-sql-tool reads from the environment.
set -eu

: "${POSTGRES_SEEDS:?}" "${DB_PORT:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}"
until nc -z -w 2 "$POSTGRES_SEEDS" "$DB_PORT"; do sleep 1; done

sql_tool() {
    temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

for store in temporal:temporal visibility:temporal_visibility; do
    schema="${store%%:*}"
    database="${store#*:}"
    sql_tool --db "$database" setup-schema -v 0.0
    sql_tool --db "$database" update-schema -d "$SCHEMA_DIR/$schema/versioned"
    echo "schema $schema is current in database $database"
done
