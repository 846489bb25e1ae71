-- The till's ledger: every entry a till makes (a sale, a refund, a closing of its period) has a
-- receipt number gapless per till and a hash chained to the till's previous entry:
--   entry_hash = SHA-256(previous_hash || canonical), the first previous_hash being
--   SHA-256 of the till's id, canonical the entry's canonical JSON in UTF-8
-- (written down exactly in docs/tills.md, and rebuilt independently by `python -m admin
-- verify-ledger`). A till's entries are numbered under the lock of its head row, so the chain
-- serializes one till's entries, never the chain's. Sales without a till (the loader's history)
-- belong to no chain.

-- The head of each till's chain: its last receipt number and hash, the grand total since its
-- first entry, and where its open period begins. Written only by the functions below.
CREATE TABLE till_ledgers (
    till_id text PRIMARY KEY,
    supermarket_id text NOT NULL,            -- the store of the till's last entry
    entries bigint NOT NULL,                 -- the last receipt number
    head_hash bytea NOT NULL,
    grand_total numeric(16, 2) NOT NULL,     -- sales less refunds since the first entry
    closings integer NOT NULL,
    period_first_receipt bigint NOT NULL,    -- the open period's first receipt number
    period_opened_at timestamptz NOT NULL
) WITH (fillfactor = 50);

CREATE TABLE till_entries (
    till_id text NOT NULL,
    receipt_number bigint NOT NULL CHECK (receipt_number >= 1),
    kind text NOT NULL CHECK (kind IN ('sale', 'refund', 'closing')),
    supermarket_id text NOT NULL,
    entered_at timestamptz NOT NULL,         -- when it was stored
    amount numeric(16, 2) NOT NULL,          -- what it adds to the grand total
    purchase_id bigint,                      -- a sale's (and a refund's sale)
    purchased_at timestamptz,
    refund_id bigint,
    closing_number integer,
    entry_hash bytea NOT NULL,
    PRIMARY KEY (till_id, receipt_number),
    CHECK ((kind = 'sale') = (refund_id IS NULL AND closing_number IS NULL AND purchase_id IS NOT NULL)),
    CHECK ((kind = 'refund') = (refund_id IS NOT NULL)),
    CHECK ((kind = 'closing') = (closing_number IS NOT NULL))
);
CREATE INDEX till_entries_of_sale ON till_entries (purchase_id) WHERE kind = 'sale';

-- A closing (Z) of a till's period, as it was answered; it never changes.
CREATE TABLE till_closings (
    till_id text NOT NULL,
    closing_number integer NOT NULL CHECK (closing_number >= 1),
    receipt_number bigint NOT NULL,
    supermarket_id text NOT NULL REFERENCES supermarkets,
    period_start timestamptz NOT NULL,
    closed_at timestamptz NOT NULL,
    automatic boolean NOT NULL,
    first_receipt bigint,                    -- NULL: the period had no sale or refund
    last_receipt bigint,
    sales bigint NOT NULL,
    sales_amount numeric(16, 2) NOT NULL,
    refunds bigint NOT NULL,
    refunded numeric(16, 2) NOT NULL,
    net numeric(16, 2) NOT NULL,
    grand_total numeric(16, 2) NOT NULL,
    units jsonb NOT NULL,                    -- [{"product", "sold", "returned"}] by name
    head_hash bytea NOT NULL,                -- the closing's own entry hash: the chain's head
    PRIMARY KEY (till_id, closing_number),
    UNIQUE (till_id, receipt_number)
);
CREATE INDEX till_closings_by_day ON till_closings (closed_at);

CREATE TRIGGER till_entries_append_only BEFORE UPDATE OR DELETE ON till_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_sales();
CREATE TRIGGER till_entries_not_truncated BEFORE TRUNCATE ON till_entries
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncating_sales();
CREATE TRIGGER till_closings_append_only BEFORE UPDATE OR DELETE ON till_closings
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_sales();
CREATE TRIGGER till_closings_not_truncated BEFORE TRUNCATE ON till_closings
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncating_sales();

-- The canonical forms' pieces: money with two decimals, UTC time with microseconds, strings as
-- JSON strings (to_json escapes " \ and control characters, as any JSON library does).
CREATE FUNCTION ledger_money(amount numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT round(amount, 2)::text $$;

CREATE FUNCTION ledger_time(at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION ledger_string(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_json(value)::text $$;

-- One line of a sale or refund in canonical form; the lines are joined with "," in the byte
-- order of the product names (ledger_lines).
CREATE FUNCTION ledger_line(product text, quantity integer, unit_price numeric) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT '{"product":' || ledger_string(product) || ',"quantity":' || quantity
           || ',"unit_price":"' || ledger_money(unit_price) || '"}'
$$;

-- An entry to chain: a sale or a refund, with its canonical lines already made.
CREATE TYPE ledger_entry AS (
    till_id text,
    kind text,                  -- 'sale' or 'refund'
    supermarket_id text,
    at timestamptz,             -- the sale's time (an offline sale's own) or the refund's
    customer_id uuid,
    lines text,                 -- '[' ledger_line, ... ']'
    total numeric,
    purchase_id bigint,
    purchased_at timestamptz,
    refund_id bigint,
    reason text
);

CREATE FUNCTION ledger_canonical(entry ledger_entry, receipt bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '{"till":' || ledger_string(entry.till_id) || ',"receipt_number":' || receipt
           || ',"kind":"' || entry.kind || '","store":' || ledger_string(entry.supermarket_id)
           || ',"time":"' || ledger_time(entry.at) || '","customer":"' || entry.customer_id
           || '","lines":' || entry.lines || ',"total":"' || ledger_money(entry.total) || '"'
           || CASE WHEN entry.kind = 'refund'
                   THEN ',"sale":' || entry.purchase_id || ',"reason":' || ledger_string(entry.reason)
                   ELSE '' END
           || '}'
$$;

-- Appends the entries to their tills' chains, in the order given within each till, and
-- answers each entry's receipt number and hash. The heads are locked in till order (an upsert
-- that also creates a new till's head), so batches sharing a till wait for each other in turn
-- and never deadlock; tills no batch shares never wait.
CREATE FUNCTION append_to_chains(entries ledger_entry[])
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
    -- Lock (or make) each till's head, number the entries after it and make their canonical
    -- forms, in one statement; then only the hashes, which chain, are made one by one.
    FOR e IN
        WITH head AS (
            INSERT INTO till_ledgers AS h (till_id, supermarket_id, entries, head_hash, grand_total,
                                           closings, period_first_receipt, period_opened_at)
            SELECT DISTINCT x.till_id, '', 0, sha256(convert_to(x.till_id, 'UTF8')), 0, 0, 1, now()
            FROM unnest(entries) AS x
            ORDER BY x.till_id
            ON CONFLICT (till_id) DO UPDATE SET till_id = h.till_id
            RETURNING h.till_id, h.entries, h.head_hash
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

-- What a till's entries from `first` to `last` add up to: the figures of a period.
CREATE FUNCTION ledger_period(till text, first bigint, last bigint)
RETURNS TABLE (sales bigint, sales_amount numeric, refunds bigint, refunded numeric, units jsonb)
LANGUAGE sql STABLE SET search_path = public, pg_catalog, pg_temp AS $$
    WITH e AS (
        SELECT * FROM till_entries
        WHERE till_id = till AND receipt_number BETWEEN first AND last
    ),
    sold AS (
        SELECT i.product_id, sum(i.quantity) AS units
        FROM e JOIN purchase_items i ON i.purchase_id = e.purchase_id AND i.purchased_at = e.purchased_at
        WHERE e.kind = 'sale' GROUP BY 1
    ),
    returned AS (
        SELECT l.product_id, sum(l.quantity) AS units
        FROM e JOIN refund_lines l ON l.refund_id = e.refund_id
        WHERE e.kind = 'refund' GROUP BY 1
    )
    SELECT
        (SELECT count(*) FROM e WHERE kind = 'sale'),
        (SELECT coalesce(sum(p.total_amount), 0) FROM e
         JOIN purchases p ON p.id = e.purchase_id AND p.purchased_at = e.purchased_at
         WHERE e.kind = 'sale'),
        (SELECT count(*) FROM e WHERE kind = 'refund'),
        (SELECT coalesce(sum(r.total_amount), 0) FROM e
         JOIN refunds r ON r.id = e.refund_id WHERE e.kind = 'refund'),
        (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'product', p.name, 'sold', coalesce(s.units, 0),
                    'returned', coalesce(r.units, 0)) ORDER BY p.name COLLATE "C"), '[]')
         FROM sold s FULL JOIN returned r USING (product_id) JOIN products p ON p.id = product_id)
$$;

-- A closing's canonical form: the period's figures, as the closing row holds them.
CREATE FUNCTION closing_canonical(c till_closings) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT '{"till":' || ledger_string(c.till_id) || ',"receipt_number":' || c.receipt_number
           || ',"kind":"closing","store":' || ledger_string(c.supermarket_id)
           || ',"time":"' || ledger_time(c.closed_at) || '","closing_number":' || c.closing_number
           || ',"period_start":"' || ledger_time(c.period_start) || '"'
           || ',"first_receipt":' || coalesce(c.first_receipt::text, 'null')
           || ',"last_receipt":' || coalesce(c.last_receipt::text, 'null')
           || ',"sales":' || c.sales || ',"sales_amount":"' || ledger_money(c.sales_amount) || '"'
           || ',"refunds":' || c.refunds || ',"refunded":"' || ledger_money(c.refunded) || '"'
           || ',"net":"' || ledger_money(c.net) || '","grand_total":"' || ledger_money(c.grand_total)
           || '","units":[' || coalesce((
                SELECT string_agg('{"product":' || ledger_string(u ->> 'product') || ',"sold":'
                                  || (u ->> 'sold') || ',"returned":' || (u ->> 'returned') || '}',
                                  ',' ORDER BY u.ordinality)
                FROM jsonb_array_elements(c.units) WITH ORDINALITY AS u(u, ordinality)), '')
           || ']}'
$$;

-- A closing or the open period as JSON, as the till and the owners see it.
CREATE FUNCTION closing_answer(c till_closings) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'till_id', c.till_id, 'supermarket_id', c.supermarket_id,
        'closing_number', c.closing_number, 'receipt_number', c.receipt_number,
        'period_start', c.period_start, 'period_end', c.closed_at, 'automatic', c.automatic,
        'first_receipt', c.first_receipt, 'last_receipt', c.last_receipt,
        'sales', c.sales, 'sales_amount', ledger_money(c.sales_amount),
        'refunds', c.refunds, 'refunded', ledger_money(c.refunded), 'net', ledger_money(c.net),
        'grand_total', ledger_money(c.grand_total), 'units', c.units,
        'head_hash', encode(c.head_hash, 'hex'))
$$;

-- The till's open period as a closing would record it now (receipt and closing numbers those
-- it would take), with nothing locked and nothing written: the X report. NULL: no head yet.
CREATE FUNCTION open_period(till text) RETURNS till_closings
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    h till_ledgers;
    c till_closings;
    f record;
BEGIN
    SELECT * INTO h FROM till_ledgers WHERE till_id = till;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT * INTO f FROM ledger_period(till, h.period_first_receipt, h.entries);
    c.till_id := till;
    c.closing_number := h.closings + 1;
    c.receipt_number := h.entries + 1;
    c.supermarket_id := h.supermarket_id;
    c.period_start := h.period_opened_at;
    c.closed_at := now();
    c.automatic := false;
    IF h.entries >= h.period_first_receipt THEN
        c.first_receipt := h.period_first_receipt;
        c.last_receipt := h.entries;
    END IF;
    c.sales := f.sales;
    c.sales_amount := f.sales_amount;
    c.refunds := f.refunds;
    c.refunded := f.refunded;
    c.net := f.sales_amount - f.refunded;
    c.grand_total := h.grand_total;
    c.units := f.units;
    c.head_hash := h.head_hash;
    RETURN c;
END
$$;

-- Closes the till's open period (Z): the closing is the chain's next entry and never changes.
-- `due_before`: close only a period opened before that moment and holding an entry (the
-- automatic close, which several processes may try at once: the head's lock makes it once).
-- NULL answer: nothing was closed. `store`: the closing's store when the till has no head yet.
CREATE FUNCTION close_till(till text, store text, automatic boolean, due_before timestamptz)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    h till_ledgers;
    c till_closings;
BEGIN
    INSERT INTO till_ledgers AS l (till_id, supermarket_id, entries, head_hash, grand_total,
                                   closings, period_first_receipt, period_opened_at)
    VALUES (till, store, 0, sha256(convert_to(till, 'UTF8')), 0, 0, 1, now())
    ON CONFLICT (till_id) DO UPDATE SET till_id = l.till_id
    RETURNING * INTO h;
    IF due_before IS NOT NULL
       AND (h.period_opened_at >= due_before OR h.entries < h.period_first_receipt) THEN
        RETURN NULL;
    END IF;
    c := open_period(till);
    c.automatic := automatic;
    c.supermarket_id := coalesce(nullif(h.supermarket_id, ''), store);
    c.closed_at := now();
    c.head_hash := sha256(h.head_hash || convert_to(closing_canonical(c), 'UTF8'));
    INSERT INTO till_closings SELECT c.*;
    INSERT INTO till_entries (till_id, receipt_number, kind, supermarket_id, entered_at, amount,
                              closing_number, entry_hash)
    VALUES (till, c.receipt_number, 'closing', c.supermarket_id, c.closed_at, 0,
            c.closing_number, c.head_hash);
    UPDATE till_ledgers
    SET entries = c.receipt_number, head_hash = c.head_hash, closings = c.closing_number,
        period_first_receipt = c.receipt_number + 1, period_opened_at = c.closed_at,
        supermarket_id = c.supermarket_id
    WHERE till_id = till;
    RETURN closing_answer(c);
END
$$;

-- The automatic close: every till whose open period holds an entry and began before the last
-- `close_at` (store-local time of day) in its store's zone. How many were closed.
CREATE FUNCTION close_due_periods(close_at time) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    due record;
    closed integer := 0;
BEGIN
    FOR due IN
        SELECT h.till_id, h.supermarket_id, b.boundary
        FROM till_ledgers h
        JOIN supermarkets s ON s.id = h.supermarket_id
        CROSS JOIN LATERAL (
            SELECT (CASE WHEN (now() AT TIME ZONE s.time_zone)::time >= close_at
                         THEN (now() AT TIME ZONE s.time_zone)::date
                         ELSE (now() AT TIME ZONE s.time_zone)::date - 1 END + close_at)
                   AT TIME ZONE s.time_zone AS boundary
        ) b
        WHERE h.entries >= h.period_first_receipt AND h.period_opened_at < b.boundary
        ORDER BY h.till_id
    LOOP
        IF close_till(due.till_id, due.supermarket_id, true, due.boundary) IS NOT NULL THEN
            closed := closed + 1;
        END IF;
    END LOOP;
    RETURN closed;
END
$$;

-- A refund is chained when its lines are stored (record_refund stores them last), so its
-- answer, made by the next statement, has its receipt number and hash.
CREATE FUNCTION chain_refunds() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    PERFORM count(*) FROM append_to_chains(ARRAY(
        SELECT ROW(f.till_id, 'refund', f.supermarket_id, f.refunded_at, p.customer_id,
                   '[' || string_agg(ledger_line(r.name, l.quantity, l.unit_price), ','
                                     ORDER BY r.name COLLATE "C") || ']',
                   f.total_amount, f.purchase_id, f.purchased_at, f.id, f.reason)::ledger_entry
        FROM new_lines l
        JOIN refunds f ON f.id = l.refund_id
        JOIN purchases p ON p.id = f.purchase_id AND p.purchased_at = f.purchased_at
        JOIN products r ON r.id = l.product_id
        GROUP BY f.id, p.customer_id
        ORDER BY f.id
    ));
    RETURN NULL;
END
$$;
CREATE TRIGGER refund_lines_chained AFTER INSERT ON refund_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION chain_refunds();

-- A refund's answer with its place in the till's chain.
CREATE OR REPLACE FUNCTION refund_answer(refund bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'refund_id', f.id, 'purchase_id', f.purchase_id, 'supermarket_id', f.supermarket_id,
        'refunded_at', f.refunded_at, 'reason', f.reason, 'total_amount', f.total_amount::text,
        'approved_by', f.approved_by, 'till_id', f.till_id,
        'receipt_number', (SELECT e.receipt_number FROM till_entries e
                           WHERE e.till_id = f.till_id AND e.refund_id = f.id),
        'entry_hash', (SELECT encode(e.entry_hash, 'hex') FROM till_entries e
                       WHERE e.till_id = f.till_id AND e.refund_id = f.id),
        'lines', (SELECT jsonb_agg(jsonb_build_object(
                      'product_id', l.product_id, 'quantity', l.quantity,
                      'unit_price', l.unit_price::text) ORDER BY l.product_id)
                  FROM refund_lines l WHERE l.refund_id = f.id),
        'refundable', (SELECT jsonb_agg(jsonb_build_object(
                           'product_id', i.product_id,
                           'refundable', i.quantity - coalesce(r.refunded, 0))
                           ORDER BY i.product_id)
                       FROM purchase_items i
                       LEFT JOIN refunded_lines r
                           ON r.purchase_id = i.purchase_id AND r.product_id = i.product_id
                       WHERE i.purchase_id = f.purchase_id AND i.purchased_at = f.purchased_at))
    FROM refunds f WHERE f.id = refund;
$$;
CREATE INDEX till_entries_of_refund ON till_entries (refund_id) WHERE kind = 'refund';

-- A sale as a till sees it to take it back, now with its place in its till's chain (NULL for
-- history the loader imported, which belongs to no till).
DROP FUNCTION sale_to_refund(bigint);
CREATE FUNCTION sale_to_refund(sale bigint)
RETURNS TABLE (
    purchase_id bigint, purchased_at timestamptz, supermarket_id text, customer_id uuid,
    total_amount numeric, product_id integer, quantity integer, unit_price numeric,
    refunded integer, till_id text, receipt_number bigint, entry_hash bytea
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT p.id, p.purchased_at, p.supermarket_id, p.customer_id, p.total_amount,
           i.product_id, i.quantity, i.unit_price, coalesce(r.refunded, 0),
           p.till_id, e.receipt_number, e.entry_hash
    FROM purchases p
    JOIN purchase_items i ON i.purchase_id = p.id AND i.purchased_at = p.purchased_at
    LEFT JOIN refunded_lines r ON r.purchase_id = p.id AND r.product_id = i.product_id
    LEFT JOIN till_entries e ON e.kind = 'sale' AND e.purchase_id = p.id
    WHERE p.id = sale
    ORDER BY i.product_id;
$$;

-- The purchases that claimed these keys before, for their replayed receipts, with their place
-- in the till's chain.
DROP FUNCTION sales_claimed_by(text[], text[], text[]);
CREATE FUNCTION sales_claimed_by(till_ids text[], keys text[], client_ids text[])
RETURNS TABLE (
    "position" int, request_hash bytea, purchase_id bigint, purchased_at timestamptz,
    customer_id uuid, total_amount numeric, product_ids int[], unit_prices numeric[],
    receipt_number bigint, entry_hash bytea
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT k.position::int, s.request_hash, p.id, p.purchased_at, p.customer_id, p.total_amount,
           array_agg(i.product_id ORDER BY i.product_id),
           array_agg(i.unit_price ORDER BY i.product_id),
           e.receipt_number, e.entry_hash
    FROM unnest(till_ids, keys, client_ids) WITH ORDINALITY AS k(till_id, key, client_id, position)
    JOIN LATERAL (
        SELECT c.request_hash, c.purchase_id, c.purchased_at FROM idempotency_keys c
        WHERE c.till_id = k.till_id AND c.key = k.key
        UNION ALL
        SELECT o.request_hash, o.purchase_id, o.purchased_at FROM offline_sales o
        WHERE o.till_id = k.till_id AND o.client_purchase_id = k.client_id
    ) s ON true
    JOIN purchases p ON p.id = s.purchase_id AND p.purchased_at = s.purchased_at
    JOIN purchase_items i ON i.purchase_id = p.id AND i.purchased_at = p.purchased_at
    LEFT JOIN till_entries e ON e.kind = 'sale' AND e.purchase_id = p.id
    GROUP BY k.position, s.request_hash, p.id, p.purchased_at, p.customer_id, p.total_amount,
             e.receipt_number, e.entry_hash;
$$;

-- The entries of the sales and refunds stored before the ledger existed, in the order they
-- were stored.
SELECT count(*) FROM append_to_chains(ARRAY(
    SELECT ROW(x.till_id, x.kind, x.supermarket_id, x.at, x.customer_id, x.lines, x.total,
               x.purchase_id, x.purchased_at, x.refund_id, x.reason)::ledger_entry
    FROM (
        SELECT p.till_id, 'sale' AS kind, p.supermarket_id, p.purchased_at AS at, p.customer_id,
               '[' || (SELECT string_agg(ledger_line(r.name, i.quantity, i.unit_price), ','
                                         ORDER BY r.name COLLATE "C")
                       FROM purchase_items i JOIN products r ON r.id = i.product_id
                       WHERE i.purchase_id = p.id AND i.purchased_at = p.purchased_at) || ']'
                   AS lines,
               p.total_amount AS total, p.id AS purchase_id, p.purchased_at,
               NULL::bigint AS refund_id, NULL AS reason,
               coalesce(p.received_at, p.purchased_at) AS stored_at, p.id AS stored_id
        FROM purchases p WHERE p.till_id IS NOT NULL
        UNION ALL
        SELECT f.till_id, 'refund', f.supermarket_id, f.refunded_at, p.customer_id,
               '[' || (SELECT string_agg(ledger_line(r.name, l.quantity, l.unit_price), ','
                                         ORDER BY r.name COLLATE "C")
                       FROM refund_lines l JOIN products r ON r.id = l.product_id
                       WHERE l.refund_id = f.id) || ']',
               f.total_amount, f.purchase_id, f.purchased_at, f.id, f.reason,
               f.refunded_at, f.id
        FROM refunds f
        JOIN purchases p ON p.id = f.purchase_id AND p.purchased_at = f.purchased_at
    ) x
    ORDER BY x.stored_at, x.kind DESC, x.stored_id
));

REVOKE ALL ON till_ledgers, till_entries, till_closings FROM PUBLIC;
REVOKE USAGE ON TYPE ledger_entry FROM PUBLIC;
GRANT USAGE ON TYPE ledger_entry TO supermarket_cash_register;
REVOKE EXECUTE ON FUNCTION append_to_chains(ledger_entry[]), ledger_period(text, bigint, bigint),
    open_period(text), close_till(text, text, boolean, timestamptz),
    close_due_periods(time), closing_answer(till_closings), closing_canonical(till_closings),
    ledger_canonical(ledger_entry, bigint), chain_refunds(), sale_to_refund(bigint),
    sales_claimed_by(text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sale_to_refund(bigint), sales_claimed_by(text[], text[], text[])
    TO supermarket_cash_register;
-- The purchase statement makes each sale's canonical lines (ledger_line) and chains the sales;
-- the till closes its period and reads its open one; the cash register closes periods due.
GRANT EXECUTE ON FUNCTION append_to_chains(ledger_entry[]), open_period(text),
    close_till(text, text, boolean, timestamptz), close_due_periods(time),
    closing_answer(till_closings), ledger_line(text, integer, numeric),
    ledger_money(numeric), ledger_string(text)
    TO supermarket_cash_register;
-- The owners read the closings, the heads and the entries (each till's open period).
GRANT SELECT ON till_closings, till_ledgers, till_entries TO supermarket_analytics;
