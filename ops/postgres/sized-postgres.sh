#!/bin/sh
# The compose database: the official image's entrypoint, with the settings of
# server-settings.sh sized for this container's memory limit, each as a `-c` flag after the
# command's own arguments.
set -eu
settings="$(sh "${SERVER_SETTINGS_SCRIPT:-/etc/supermarket/server-settings.sh}")"
for setting in $settings; do
    set -- "$@" -c "$setting"
done
exec docker-entrypoint.sh "$@"
