#!/bin/sh
# Prints this node's Patroni configuration: patroni.yml with PostgreSQL's settings sized for
# the container's memory limit (server-settings.sh; the memory in bytes may be given as the
# first argument) added to the postgresql.parameters block that ends it.
set -eu
template="${PATRONI_TEMPLATE:-/etc/supermarket/patroni.yml}"
settings="$(sh "${SERVER_SETTINGS_SCRIPT:-/usr/local/bin/server-settings.sh}" "$@")"
cat "$template"
printf '%s\n' "$settings" | sed "s/^\([^=]*\)=\(.*\)$/    \1: '\2'/"
