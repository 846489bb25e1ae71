#!/bin/sh
# A database node of the compose cluster: Patroni with this node's name and addresses, and the
# passwords read from the secrets into Patroni's environment (never onto a command line), and
# PostgreSQL sized for the container's memory.
# With ETCD as the first argument it runs the etcd member instead.
set -eu
if [ "${1:-}" = "etcd" ]; then
    exec etcd --name etcd1 --data-dir /var/lib/etcd/data \
        --listen-client-urls http://0.0.0.0:2379 --advertise-client-urls "http://$(hostname):2379" \
        --listen-peer-urls http://0.0.0.0:2380 --initial-advertise-peer-urls "http://$(hostname):2380" \
        --initial-cluster "etcd1=http://$(hostname):2380"
fi
: "${PATRONI_NAME:?set PATRONI_NAME (this node's name)}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${POSTGRES_DB:?set POSTGRES_DB}"
export PATRONI_RESTAPI_CONNECT_ADDRESS="$PATRONI_NAME:8008"
export PATRONI_POSTGRESQL_CONNECT_ADDRESS="$PATRONI_NAME:5432"
export PATRONI_POSTGRESQL_DATA_DIR=/var/lib/postgresql/data/pgdata
PATRONI_POSTGRESQL_BIN_DIR="$(dirname "$(command -v postgres)")"
export PATRONI_POSTGRESQL_BIN_DIR
export PATRONI_ETCD3_HOSTS="${ETCD_HOSTS:-etcd:2379}"
export PATRONI_SUPERUSER_USERNAME="$POSTGRES_USER"
PATRONI_SUPERUSER_PASSWORD="$(cat /run/secrets/postgres_password)"
export PATRONI_SUPERUSER_PASSWORD
export PATRONI_REPLICATION_USERNAME=replicator
PATRONI_REPLICATION_PASSWORD="$(cat /run/secrets/replication_password)"
export PATRONI_REPLICATION_PASSWORD
# pgBackRest reaches PostgreSQL as the cluster's superuser (there is no role "postgres").
export PGBACKREST_PG1_USER="$POSTGRES_USER"
mkdir -p /tmp/pgbackrest
/usr/local/bin/scheduled-backups.sh &
# PostgreSQL's settings sized for this container's memory limit (patroni-config.sh).
patroni-config.sh > /tmp/patroni.yml
exec patroni /tmp/patroni.yml
