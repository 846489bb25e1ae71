#!/bin/sh
# The primary's side of compose's cluster override (docker-compose.cluster.yml), run once by
# the postgres image's entrypoint when it creates the database (/docker-entrypoint-initdb.d):
# a role that may only replicate, with its password from the replication_password secret, the
# physical slot the replica streams through (so the primary keeps every WAL segment the
# replica still needs), and a pg_hba line letting that role, and only it, replicate.
set -eu
# psql reads the password from its file itself (\set with a backtick command), so it is never
# on a command line that `ps` shows.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\set password `cat /run/secrets/replication_password`
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica');
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
