#!/bin/sh
# The hot standby of compose's cluster override (docker-compose.cluster.yml). At its first
# start: a base backup of the primary over the replication protocol, through the slot the
# primary made (pg_basebackup -R writes standby.signal and primary_conninfo); the primary may
# still be starting, so it tries again. After that: the server alone, streaming from where it
# stopped. Runs as the postgres user, never root.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    PGPASSWORD="$(cat /run/secrets/replication_password)"
    export PGPASSWORD
    until pg_basebackup --host="$PRIMARY_HOST" --username=replicator --pgdata="$PGDATA" \
        --wal-method=stream --write-recovery-conf --slot="$REPLICATION_SLOT" \
        --checkpoint=fast; do
        echo "replica: no base backup from $PRIMARY_HOST yet; trying again in 2 s" >&2
        rm -rf "$PGDATA"
        sleep 2
    done
    unset PGPASSWORD
fi
exec postgres -c hot_standby=on
