-- The screens' sessions, kept by the server. A browser holds a random session id (never the
-- key itself); the database keeps only its SHA-256, the hash of the key signed in with (a
-- revoked or replaced key ends its sessions at once: the services check the key is still
-- live), the hash of the session's CSRF token, and when it expires. Sign-out ends it.
CREATE TABLE screen_sessions (
    session_hash bytea PRIMARY KEY,
    key_hash bytea NOT NULL,
    csrf_hash bytea NOT NULL,
    kind text NOT NULL CHECK (kind IN ('till', 'owner')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz
);
CREATE INDEX screen_sessions_expiry ON screen_sessions (expires_at);

-- The services touch sessions only through these three functions (no table privilege).
CREATE FUNCTION start_screen_session(
    session_hash bytea, key_hash bytea, csrf_hash bytea, kind text, lasting interval
) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    DELETE FROM screen_sessions WHERE expires_at < now() - interval '1 day';
    INSERT INTO screen_sessions (session_hash, key_hash, csrf_hash, kind, expires_at)
    VALUES (session_hash, key_hash, csrf_hash, kind, now() + lasting);
$$;

CREATE FUNCTION live_screen_session(wanted bytea, OUT key_hash bytea, OUT csrf_hash bytea)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT s.key_hash, s.csrf_hash FROM screen_sessions s
    WHERE s.session_hash = wanted AND s.ended_at IS NULL AND s.expires_at > now();
$$;

CREATE FUNCTION end_screen_session(wanted bytea) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    UPDATE screen_sessions SET ended_at = now() WHERE session_hash = wanted AND ended_at IS NULL;
$$;

REVOKE ALL ON screen_sessions FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION start_screen_session(bytea, bytea, bytea, text, interval),
    live_screen_session(bytea), end_screen_session(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION start_screen_session(bytea, bytea, bytea, text, interval),
    live_screen_session(bytea), end_screen_session(bytea)
    TO supermarket_cash_register, supermarket_analytics;
