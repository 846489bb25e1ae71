-- What keeps the chain's sales safe beyond one machine, as the cash register's metrics and
-- /readyz show it: how many synchronous standbys hold each commit as it is acknowledged, how
-- WAL archiving is going, and when the last good backup finished.

-- Each backup that finished, recorded by `python -m backup` once pgBackRest says it is done,
-- so its age can be watched from the database every service already reaches (and follows a
-- failover, being replicated like everything else).
CREATE TABLE backups_taken (
    label text PRIMARY KEY,                  -- pgBackRest's, e.g. 20261204-014933F
    kind text NOT NULL CHECK (kind IN ('full', 'diff', 'incr')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL
);

-- pg_stat_replication shows its states only to the privileged: this reads them as the owner.
-- plpgsql, so it is planned once per session, not once per calling statement.
CREATE FUNCTION database_safety()
RETURNS TABLE (
    synchronous_standbys integer,
    archive_failures bigint,
    last_archive_failure timestamptz,
    last_archived timestamptz,
    last_backup_at timestamptz
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT
        (SELECT count(*)::integer FROM pg_stat_replication r
          WHERE r.sync_state IN ('sync', 'quorum') AND r.state = 'streaming'),
        a.failed_count,
        a.last_failed_time,
        a.last_archived_time,
        (SELECT max(b.finished_at) FROM backups_taken b)
    FROM pg_stat_archiver a;
END
$$;

REVOKE ALL ON backups_taken FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION database_safety() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION database_safety() TO supermarket_cash_register;
