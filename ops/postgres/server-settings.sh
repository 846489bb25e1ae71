#!/bin/sh
# The PostgreSQL settings this system runs with, sized for the memory the server may use: one
# `name=value` per line. The memory is the first argument in bytes, else this container's
# memory limit (cgroup v2, then v1), else the machine's memory. The same lines configure the
# compose database (sized-postgres.sh), the Patroni nodes (node-entrypoint.sh), `make cluster`
# and `make bench` (devtools/server_settings.py), so the figures are measured on what runs.
#
# Why each: a quarter of the memory for PostgreSQL's own cache and three quarters assumed
# cached in all; room for an import's WAL between checkpoints (a load is not a string of
# checkpoints) and checkpoints spread over most of their interval; sorts of the owners'
# questions and the loader's checks in memory; a sale is on disk when it is acknowledged
# (synchronous_commit on); statement statistics kept for finding where the time goes; no JIT,
# whose compile time would be most of a short analytics query's.
set -eu
memory="${1:-}"
if [ -z "$memory" ]; then
    limit=""
    if [ -r /sys/fs/cgroup/memory.max ]; then
        limit="$(cat /sys/fs/cgroup/memory.max)"
    elif [ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
        limit="$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
    fi
    machine=$(( $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) * 1024 ))
    case "$limit" in
        ''|max) memory=$machine ;;
        *) memory=$limit; [ "$memory" -lt "$machine" ] || memory=$machine ;;
    esac
fi
case "$memory" in
    ''|*[!0-9]*) echo "server-settings.sh: memory must be a number of bytes, not '$memory'" >&2; exit 2 ;;
esac
mb=$(( memory / 1048576 ))
if [ "$mb" -lt 256 ]; then
    echo "server-settings.sh: $mb MB is too little memory for this system's database (256 MB at least)" >&2
    exit 2
fi
at_most() { if [ "$1" -lt "$2" ]; then echo "$1"; else echo "$2"; fi; }
at_least() { if [ "$1" -gt "$2" ]; then echo "$1"; else echo "$2"; fi; }

echo "max_connections=200"
echo "shared_buffers=$(( mb / 4 ))MB"
echo "effective_cache_size=$(( mb * 3 / 4 ))MB"
echo "work_mem=$(at_least $(( mb / 128 )) 4)MB"
echo "maintenance_work_mem=$(at_most $(( mb / 16 )) 1024)MB"
echo "wal_buffers=$(at_most $(( mb / 128 )) 64)MB"
echo "max_wal_size=8GB"
echo "min_wal_size=1GB"
echo "checkpoint_timeout=15min"
echo "checkpoint_completion_target=0.9"
echo "synchronous_commit=on"
echo "random_page_cost=1.1"
echo "effective_io_concurrency=200"
echo "jit=off"
echo "shared_preload_libraries=pg_stat_statements"
echo "pg_stat_statements.track=top"
