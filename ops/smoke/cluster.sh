#!/bin/bash
# What compose-smoke runs against the cluster override (docs/operations.md, "Several cash registers"):
#   COMPOSE_SMOKE_ENV_FILE=.env ../shared/tools/compose-smoke \
#     -f docker-compose.yml -f docker-compose.cluster.yml -- ops/smoke/cluster.sh
# Both ports ready, requests spread over 2+ cash registers, the analytics on the replica,
# and no data without a key.
set -euo pipefail
for port in 8000 8001; do curl -fsS "http://127.0.0.1:$port/readyz"; echo; done
seen=""
for i in $(seq 1 12); do
  seen="$seen $(curl -fsS -o /dev/null -D - http://127.0.0.1:8000/livez | grep -i '^x-cash-register' | tr -d '\r' | cut -d' ' -f2)"
done
echo "cash registers answering:$(echo $seen | tr ' ' '\n' | sort -u | tr '\n' ' ')"
test "$(echo $seen | tr ' ' '\n' | sort -u | wc -l)" -ge 2
curl -fsS http://127.0.0.1:8001/health | tee /dev/stderr | grep -q '"reads_from":"replica"'
echo
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/catalog)" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8001/unique-customers)" = 401
echo "cluster smoke ok"
