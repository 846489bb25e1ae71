#!/bin/sh
# nginx of compose's cluster override (docker-compose.cluster.yml): renders the same template
# `make cluster` uses, with one upstream name that compose's DNS resolves to every cash
# register container (nginx resolves it when it starts), then runs nginx in the foreground.
set -eu
prefix=/tmp/nginx
mkdir -p "$prefix"
sed -e "s|{prefix}|$prefix|g" \
    -e "s|{listen}|8000|" \
    -e "s|{servers}|        server ${CASH_REGISTER_HOST}:8000 max_fails=2 fail_timeout=5s;|" \
    -e "s|{max_body}|${MAX_BODY_BYTES}|" \
    /etc/supermarket/cash-registers.conf.template > "$prefix/nginx.conf"
exec nginx -e stderr -p "$prefix" -c "$prefix/nginx.conf"
