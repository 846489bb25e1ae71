#!/bin/bash
# What compose-smoke runs against the cluster override (docs/operations.md, "Several cash registers"):
#   COMPOSE_SMOKE_ENV_FILE=.env ../shared/tools/compose-smoke \
#     -f docker-compose.yml -f docker-compose.cluster.yml -- ops/smoke/cluster.sh
# Both ports ready, requests spread over 2+ cash registers, each sale on two copies (the
# synchronous standby under Patroni), a backup taken and recorded, the analytics on the
# replica, and no data without a key.
set -euo pipefail
for port in 8000 8001; do curl -fsS "http://127.0.0.1:$port/readyz"; echo; done
seen=""
for i in $(seq 1 12); do
  seen="$seen $(curl -fsS -o /dev/null -D - http://127.0.0.1:8000/livez | grep -i '^x-cash-register' | tr -d '\r' | cut -d' ' -f2)"
done
echo "cash registers answering:$(echo $seen | tr ' ' '\n' | sort -u | tr '\n' ' ')"
test "$(echo $seen | tr ' ' '\n' | sort -u | wc -l)" -ge 2
for i in $(seq 1 30); do
  curl -fsS http://127.0.0.1:8000/readyz | grep -q '"sale_copies":2' && break
  test "$i" -lt 30 || { curl -sS http://127.0.0.1:8000/readyz; exit 1; }
  sleep 1
done
echo "sales are on two copies"
# The primary's node takes its first (full) backup within a minute and records it: the cash
# registers' metrics then give its age instead of +Inf.
metrics_key="$(cat secrets/metrics_key)"
for i in $(seq 1 60); do
  age="$(curl -fsS -H "Authorization: Bearer $metrics_key" http://127.0.0.1:8000/metrics | awk '$1 == "last_backup_age_seconds" {print $2}')"
  case "$age" in ""|+Inf) ;; *) break ;; esac
  test "$i" -lt 60 || { echo "no backup recorded: last_backup_age_seconds=$age"; exit 1; }
  sleep 2
done
echo "a backup was taken and recorded ${age} s ago"
curl -fsS http://127.0.0.1:8001/health | tee /dev/stderr | grep -q '"reads_from":"replica"'
echo
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/catalog)" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8001/unique-customers)" = 401
if grep -q '^DB_HOST_PORT=' .env 2>/dev/null; then ops/smoke/settings.sh; fi
echo "cluster smoke ok"
