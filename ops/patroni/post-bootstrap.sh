#!/bin/sh
# Run once by Patroni on the node that creates the cluster (bootstrap.post_bootstrap), with a
# connection string as its argument: the chain's database, the server's own databases closed
# to the services' roles (narrow-connect.sql), and the backup repository's stanza.
set -eu
psql "$1" -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') \gexec
SQL
psql "$1" -v ON_ERROR_STOP=1 -f /etc/supermarket/narrow-connect.sql
pgbackrest --config=/etc/supermarket/pgbackrest.conf --stanza=supermarket stanza-create ||
    echo "post-bootstrap: stanza-create failed; scheduled-backups.sh tries again" >&2
