-- Each till's one offline upload in progress, across every worker and every cash register: a
-- claim taken before the upload is read and given back when it is answered. A claim whose
-- worker died lapses at `until`, so a crash never locks a till out for long; a claim its own
-- worker could not give back (the database was away) that worker takes again.
CREATE TABLE uploads_in_progress (
    till_id text PRIMARY KEY,
    holder uuid NOT NULL,
    until timestamptz NOT NULL
);

-- The cash register touches the claims only through these two functions (no table privilege).
CREATE FUNCTION claim_upload(till text, claimant uuid, lasting interval) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    INSERT INTO uploads_in_progress AS u (till_id, holder, until)
    VALUES (till, claimant, now() + lasting)
    ON CONFLICT (till_id) DO UPDATE SET holder = excluded.holder, until = excluded.until
    WHERE u.until < now() OR u.holder = claimant
    RETURNING true;
$$;

CREATE FUNCTION end_upload(till text, claimant uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    DELETE FROM uploads_in_progress WHERE till_id = till AND holder = claimant;
$$;

REVOKE ALL ON uploads_in_progress FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION claim_upload(text, uuid, interval), end_upload(text, uuid)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION claim_upload(text, uuid, interval), end_upload(text, uuid)
    TO supermarket_cash_register;
