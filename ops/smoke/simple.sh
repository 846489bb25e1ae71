#!/bin/bash
# What compose-smoke runs against the simple topology (docker-compose.yml alone):
#   COMPOSE_SMOKE_ENV_FILE=.env ../shared/tools/compose-smoke -- ops/smoke/simple.sh
# Both services ready, the screens and local Swagger UI served, the analytics on the primary,
# and no data or metrics without a key.
set -euo pipefail
for port in 8000 8001; do
  curl -fsS "http://127.0.0.1:$port/readyz"; echo
  curl -fsS "http://127.0.0.1:$port/livez" >/dev/null
  curl -fsS -H 'Accept: text/html' "http://127.0.0.1:$port/" | grep -qi '<html'
  curl -fsS "http://127.0.0.1:$port/docs" | grep -q 'swagger'
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" = 401
done
curl -fsS http://127.0.0.1:8001/health | grep -q '"reads_from":"primary"'
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/catalog)" = 401
test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8001/unique-customers)" = 401
if grep -q '^DB_HOST_PORT=' .env 2>/dev/null; then ops/smoke/settings.sh; fi
echo "simple smoke ok"
