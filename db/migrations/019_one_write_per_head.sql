-- Appending to the tills' chains in one statement that writes each till's head once.
--
-- The chaining function locked a head (an upsert), made the hashes, then moved the head in a
-- second statement: two writes of the head row per sale, and three statements. Now the upsert
-- that locks the head also moves it: its DO UPDATE reads the head as locked (the latest
-- version, after any batch it waited for), and makes the batch's hashes from it there. The
-- statement's other parts read the rows as they were when it began, not as locked, so the head
-- keeps the hash it moved from (previous_head_hash) for the same statement to number and hash
-- each entry from, and to store them.

-- The head's hash before the last append, read back by that append's own statement.
ALTER TABLE till_ledgers ADD COLUMN previous_head_hash bytea;

-- The hashes of `entries` chained after `previous`, the first being receipt `after` + 1.
CREATE FUNCTION ledger_hashes(previous bytea, after bigint, entries ledger_entry[])
RETURNS bytea[]
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    entry ledger_entry;
    hashes bytea[] := '{}';
BEGIN
    FOREACH entry IN ARRAY entries LOOP
        after := after + 1;
        previous := sha256(previous || convert_to(ledger_canonical(entry, after), 'UTF8'));
        hashes := hashes || previous;
    END LOOP;
    RETURN hashes;
END
$$;

-- Appends the entries to their tills' chains, in the order given within each till, and
-- answers each entry's receipt number and hash. The heads are locked in till order (the upsert
-- that also creates a new till's head), so batches sharing a till wait for each other in turn
-- and never deadlock; tills no batch shares never wait.
CREATE OR REPLACE FUNCTION append_to_chains(entries ledger_entry[])
RETURNS TABLE (purchase_id bigint, refund_id bigint, receipt_number bigint, entry_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    -- plpgsql, not sql: its plan is kept from call to call, a sql function's is made anew in
    -- every statement that calls it.
    RETURN QUERY WITH entry AS (
        SELECT t.ordinality AS position, t.*,
               ROW(t.till_id, t.kind, t.supermarket_id, t.at, t.customer_id, t.lines, t.total,
                   t.purchase_id, t.purchased_at, t.refund_id, t.reason)::ledger_entry AS whole
        FROM unnest(entries) WITH ORDINALITY AS t
    ),
    batch AS (
        SELECT e.till_id, count(*) AS count,
               sum(CASE WHEN e.kind = 'refund' THEN -e.total ELSE e.total END) AS amount,
               (array_agg(e.supermarket_id ORDER BY e.position DESC))[1] AS store,
               array_agg(e.whole ORDER BY e.position) AS entries,
               array_agg(e.position ORDER BY e.position) AS positions
        FROM entry e
        GROUP BY e.till_id
    ),
    head AS (
        INSERT INTO till_ledgers AS h (till_id, supermarket_id, entries, head_hash,
                                       previous_head_hash, grand_total, closings,
                                       period_first_receipt, period_opened_at)
        SELECT b.till_id, b.store, b.count,
               (ledger_hashes(sha256(convert_to(b.till_id, 'UTF8')), 0, b.entries))[b.count],
               sha256(convert_to(b.till_id, 'UTF8')), b.amount, 0, 1, now()
        FROM batch b
        ORDER BY b.till_id
        ON CONFLICT (till_id) DO UPDATE
        SET entries = h.entries + excluded.entries,
            head_hash = (SELECT (ledger_hashes(h.head_hash, h.entries, b.entries))[b.count]
                         FROM batch b WHERE b.till_id = excluded.till_id),
            previous_head_hash = h.head_hash,
            grand_total = h.grand_total + excluded.grand_total,
            supermarket_id = excluded.supermarket_id
        RETURNING h.till_id, h.entries, h.previous_head_hash
    ),
    chained AS (
        SELECT b.positions[x.n] AS position, h.entries - b.count + x.n AS receipt, x.hash
        FROM head h
        JOIN batch b USING (till_id)
        CROSS JOIN LATERAL unnest(ledger_hashes(h.previous_head_hash, h.entries - b.count,
                                                b.entries)) WITH ORDINALITY AS x(hash, n)
    ),
    stored AS (
        INSERT INTO till_entries (till_id, receipt_number, kind, supermarket_id, entered_at,
                                  amount, purchase_id, purchased_at, refund_id, entry_hash)
        SELECT e.till_id, c.receipt, e.kind, e.supermarket_id, now(),
               CASE WHEN e.kind = 'refund' THEN -e.total ELSE e.total END,
               e.purchase_id, e.purchased_at, e.refund_id, c.hash
        FROM chained c JOIN entry e USING (position)
    )
    SELECT e.purchase_id, e.refund_id, c.receipt, c.hash
    FROM chained c JOIN entry e USING (position)
    ORDER BY c.position;
END
$$;

REVOKE EXECUTE ON FUNCTION ledger_hashes(bytea, bigint, ledger_entry[]) FROM PUBLIC;
