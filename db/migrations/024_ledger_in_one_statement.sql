-- A till's ledger append in one statement when each till of the batch has one entry.
--
-- A till sends one sale at a time, so nearly every batch of live sales holds at most one entry
-- per till: each entry's hash is then the hash of its till's head and its own canonical form,
-- with no chain inside the batch to follow. Such a batch now locks the heads, numbers and
-- hashes its entries, stores them and moves the heads in one statement, after one cheap
-- look at the batch (does each till appear once, has each a head). Profiled under pgbench
-- (perf, one sale per transaction), the append was a third of the sale's database time, most
-- of it starting its three statements and looping over the entries in PL/pgSQL; the
-- head-creating insert now runs only for a till's first entry. A batch in which a till has
-- several entries (an offline upload, a till's retries racing) takes the loop as before.
--
-- The heads are locked (FOR UPDATE, in till order) and moved in the same statement: a head
-- a concurrent batch moved meanwhile is locked at its newest version, which numbers the
-- entries, and the update follows it there (READ COMMITTED rechecks an updated row).
CREATE OR REPLACE FUNCTION append_to_chains(entries ledger_entry[])
RETURNS TABLE (purchase_id bigint, refund_id bigint, receipt_number bigint, entry_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    e record;
    till text := NULL;  -- the till whose entries the loop is chaining
    previous bytea;
    positions bigint[] := '{}';
    numbers bigint[] := '{}';
    hashes bytea[] := '{}';
    one_entry_each boolean;
    heads_exist boolean;
BEGIN
    IF coalesce(cardinality(entries), 0) = 0 THEN
        RETURN;
    END IF;
    SELECT count(DISTINCT x.till_id) = count(*),
           bool_and(EXISTS (SELECT 1 FROM till_ledgers h WHERE h.till_id = x.till_id))
    INTO one_entry_each, heads_exist
    FROM unnest(append_to_chains.entries) AS x;
    IF NOT heads_exist THEN
        INSERT INTO till_ledgers (till_id, supermarket_id, entries, head_hash, grand_total,
                                  closings, period_first_receipt, period_opened_at)
        SELECT DISTINCT x.till_id, '', 0, sha256(convert_to(x.till_id, 'UTF8')), 0, 0, 1, now()
        FROM unnest(append_to_chains.entries) AS x
        WHERE NOT EXISTS (SELECT 1 FROM till_ledgers h WHERE h.till_id = x.till_id)
        ORDER BY x.till_id
        ON CONFLICT (till_id) DO NOTHING;
    END IF;
    IF one_entry_each THEN
        RETURN QUERY
            WITH head AS MATERIALIZED (
                SELECT h.till_id, h.entries, h.head_hash
                FROM till_ledgers h
                WHERE h.till_id IN (SELECT x.till_id FROM unnest(append_to_chains.entries) AS x)
                ORDER BY h.till_id
                FOR UPDATE
            ),
            chained AS MATERIALIZED (
                SELECT x.ordinality AS position, h.entries + 1 AS receipt,
                       sha256(h.head_hash || convert_to(ledger_canonical(
                           ROW(x.till_id, x.kind, x.supermarket_id, x.at, x.customer_id,
                               x.lines, x.total, x.purchase_id, x.purchased_at, x.refund_id,
                               x.reason)::ledger_entry, h.entries + 1), 'UTF8')) AS hash,
                       x.till_id, x.kind, x.supermarket_id, x.total, x.purchase_id,
                       x.purchased_at, x.refund_id
                FROM unnest(append_to_chains.entries) WITH ORDINALITY AS x
                JOIN head h USING (till_id)
            ),
            stored AS (
                INSERT INTO till_entries (till_id, receipt_number, kind, supermarket_id,
                                          entered_at, amount, purchase_id, purchased_at,
                                          refund_id, entry_hash)
                SELECT c.till_id, c.receipt, c.kind, c.supermarket_id, now(),
                       CASE WHEN c.kind = 'refund' THEN -c.total ELSE c.total END,
                       c.purchase_id, c.purchased_at, c.refund_id, c.hash
                FROM chained c
            ),
            heads AS (
                UPDATE till_ledgers h
                SET entries = c.receipt, head_hash = c.hash,
                    grand_total = h.grand_total
                        + CASE WHEN c.kind = 'refund' THEN -c.total ELSE c.total END,
                    supermarket_id = c.supermarket_id
                FROM chained c
                WHERE h.till_id = c.till_id
            )
            SELECT c.purchase_id, c.refund_id, c.receipt, c.hash FROM chained c ORDER BY c.position;
        RETURN;
    END IF;
    -- Several entries of one till: lock each till's head, number the entries after it and
    -- make their canonical forms, in one statement; then only the hashes, which chain, are
    -- made one by one.
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
              FROM unnest(append_to_chains.entries) WITH ORDINALITY AS t) AS x
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
            JOIN unnest(append_to_chains.entries) WITH ORDINALITY AS x
                ON x.ordinality = c.position
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
