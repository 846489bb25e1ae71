-- What one sale costs the database, made smaller without changing what it stores.
--
-- The canonical forms' helpers were declared IMMUTABLE over to_json, which is STABLE, so the
-- planner could not inline them: each call ran as a statement of its own (about four per
-- sale). STABLE is what they are. The aggregate shard's function carried a search_path
-- setting, which also keeps a function from being inlined, three times per sale; it names
-- only pg_catalog's functions, qualified, and needs none.
ALTER FUNCTION ledger_string(text) STABLE;
ALTER FUNCTION ledger_money(numeric) STABLE;
ALTER FUNCTION ledger_line(text, integer, numeric) STABLE;

CREATE OR REPLACE FUNCTION aggregate_shard() RETURNS smallint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(pg_catalog.current_setting('shop.aggregate_shard', true), '')::smallint,
                    (pg_catalog.pg_backend_pid() % 16)::smallint)
$$;
ALTER FUNCTION aggregate_shard() RESET search_path;

-- A till's head was upserted to lock it (a new row version) and then updated: two versions
-- per sale. Now a till's first entry makes its head, and an existing head is only locked
-- (FOR UPDATE, in till order as before, so batches sharing tills never deadlock) before the one
-- update that moves it.
CREATE OR REPLACE FUNCTION append_to_chains(entries ledger_entry[])
RETURNS TABLE (purchase_id bigint, refund_id bigint, receipt_number bigint, entry_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    e record;
    till text := NULL;  -- the till whose entries the loop is chaining
    previous bytea;
    positions bigint[] := '{}';
    numbers bigint[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    IF coalesce(cardinality(entries), 0) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO till_ledgers (till_id, supermarket_id, entries, head_hash, grand_total, closings,
                              period_first_receipt, period_opened_at)
    SELECT DISTINCT x.till_id, '', 0, sha256(convert_to(x.till_id, 'UTF8')), 0, 0, 1, now()
    FROM unnest(append_to_chains.entries) AS x
    WHERE NOT EXISTS (SELECT 1 FROM till_ledgers h WHERE h.till_id = x.till_id)
    ORDER BY x.till_id
    ON CONFLICT (till_id) DO NOTHING;
    -- Lock each till's head, number the entries after it and make their canonical forms, in
    -- one statement; then only the hashes, which chain, are made one by one.
    FOR e IN
        WITH head AS MATERIALIZED (
            SELECT h.till_id, h.entries, h.head_hash
            FROM till_ledgers h
            WHERE h.till_id IN (SELECT x.till_id FROM unnest(append_to_chains.entries) AS x)
            ORDER BY h.till_id
            FOR UPDATE
        )
        SELECT x.position, x.till_id, h.entries + row_number() OVER w AS receipt, h.head_hash,
               ledger_canonical(x.entry, h.entries + row_number() OVER w) AS canonical
        FROM (SELECT t.ordinality AS position, t.till_id,
                     ROW(t.till_id, t.kind, t.supermarket_id, t.at, t.customer_id, t.lines,
                         t.total, t.purchase_id, t.purchased_at, t.refund_id,
                         t.reason)::ledger_entry AS entry
              FROM unnest(entries) WITH ORDINALITY AS t) AS x
        JOIN head h USING (till_id)
        WINDOW w AS (PARTITION BY x.till_id ORDER BY x.position)
        ORDER BY x.till_id, x.position
    LOOP
        IF e.till_id IS DISTINCT FROM till THEN
            till := e.till_id;
            previous := e.head_hash;
        END IF;
        previous := sha256(previous || convert_to(e.canonical, 'UTF8'));
        positions := positions || e.position;
        numbers := numbers || e.receipt;
        hashes := hashes || previous;
    END LOOP;
    -- Store the entries and move the heads in the statement that answers them.
    RETURN QUERY
        WITH chained AS (
            SELECT c.position, c.receipt, c.hash, x.*
            FROM unnest(positions, numbers, hashes) AS c(position, receipt, hash)
            JOIN unnest(entries) WITH ORDINALITY AS x ON x.ordinality = c.position
        ),
        stored AS (
            INSERT INTO till_entries (till_id, receipt_number, kind, supermarket_id, entered_at,
                                      amount, purchase_id, purchased_at, refund_id, entry_hash)
            SELECT c.till_id, c.receipt, c.kind, c.supermarket_id, now(),
                   CASE WHEN c.kind = 'refund' THEN -c.total ELSE c.total END,
                   c.purchase_id, c.purchased_at, c.refund_id, c.hash
            FROM chained c
        ),
        heads AS (
            UPDATE till_ledgers h
            SET entries = w.last_receipt, head_hash = w.last_hash,
                grand_total = h.grand_total + w.amount, supermarket_id = w.store
            FROM (
                SELECT c.till_id, max(c.receipt) AS last_receipt,
                       (array_agg(c.hash ORDER BY c.receipt DESC))[1] AS last_hash,
                       (array_agg(c.supermarket_id ORDER BY c.receipt DESC))[1] AS store,
                       sum(CASE WHEN c.kind = 'refund' THEN -c.total ELSE c.total END) AS amount
                FROM chained c
                GROUP BY c.till_id
            ) w
            WHERE h.till_id = w.till_id
        )
        SELECT c.purchase_id, c.refund_id, c.receipt, c.hash FROM chained c ORDER BY c.position;
END
$$;
