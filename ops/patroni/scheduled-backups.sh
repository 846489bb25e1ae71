#!/bin/sh
# The compose cluster's backup schedule, in every node; it acts only while its node is the
# primary (Patroni's /primary answers 200), so exactly one node backs up, before and after a
# failover. A full backup when the repository has none, else a differential one every
# BACKUP_EVERY_SECONDS (a day); each finished backup is recorded in backups_taken, where the
# cash registers read its age (last_backup_age_seconds).
set -u
conf=/etc/supermarket/pgbackrest.conf
every="${BACKUP_EVERY_SECONDS:-86400}"
last=0
is_primary() {
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8008/primary', timeout=2)" 2>/dev/null
}
record() {
    pgbackrest --config="$conf" --stanza=supermarket --output=json info | python3 -c '
import json, sys
backup = json.load(sys.stdin)[0]["backup"][-1]
print(backup["label"], backup["type"], backup["timestamp"]["start"], backup["timestamp"]["stop"])
' | while read -r label kind started finished; do
        psql -h /tmp -U "$POSTGRES_USER" -d "$POSTGRES_DB" -q -c "INSERT INTO backups_taken VALUES ('$label', '$kind', to_timestamp($started), to_timestamp($finished)) ON CONFLICT DO NOTHING" ||
            echo "scheduled-backups: $label not recorded (the schema may not be migrated yet)" >&2
    done
}
while sleep 30; do
    is_primary || continue
    now=$(date +%s)
    [ $((now - last)) -ge "$every" ] || continue
    pgbackrest --config="$conf" --stanza=supermarket stanza-create >/dev/null 2>&1 || true
    if pgbackrest --config="$conf" --stanza=supermarket --output=json info | grep -q '"label"'; then
        kind=diff
    else
        kind=full
    fi
    if pgbackrest --config="$conf" --stanza=supermarket --type="$kind" backup; then
        last=$now
        record
    else
        echo "scheduled-backups: the $kind backup failed; trying again in 30 s" >&2
    fi
done
