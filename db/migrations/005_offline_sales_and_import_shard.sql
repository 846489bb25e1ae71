-- Offline sales remembered for their whole life; an import that shares no row with the tills
-- for longer than a chunk (its own counter shard, its customers folded once, at the end);
-- the partition lock's number handed in by the caller.

-- An offline sale's client_purchase_id, kept as long as the sale itself (never expired), unique
-- per store: a till may upload its backlog again whenever it likes (the first answer was lost,
-- the network came back a day later) and nothing is stored twice. Live Idempotency-Keys stay
-- in idempotency_keys, which expires them after IDEMPOTENCY_KEY_TTL_HOURS.
CREATE TABLE offline_sales (
    supermarket_id text NOT NULL,
    client_purchase_id text NOT NULL,
    request_hash bytea NOT NULL,
    purchase_id bigint NOT NULL,
    purchased_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supermarket_id, client_purchase_id)
);

-- Offline sales stored before this migration have their id in idempotency_keys, where it would
-- expire: a live sale's key was claimed at the sale's own instant (both now()), an offline
-- one's at upload, after the sale. Move those to offline_sales.
INSERT INTO offline_sales
    (supermarket_id, client_purchase_id, request_hash, purchase_id, purchased_at, received_at)
SELECT p.supermarket_id, k.key, k.request_hash, k.purchase_id, k.purchased_at, k.created_at
FROM idempotency_keys k
JOIN purchases p ON p.id = k.purchase_id AND p.purchased_at = k.purchased_at
WHERE k.purchased_at <> k.created_at
ON CONFLICT DO NOTHING;
DELETE FROM idempotency_keys WHERE purchased_at <> created_at;

-- The shard of the sharded counters this session writes. Tills' sessions spread over 0..15 by
-- backend pid; the loader sets `shop.aggregate_shard` to a shard of its own, so an import never
-- waits for a till's row nor holds one a till needs.
CREATE FUNCTION aggregate_shard() RETURNS smallint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('shop.aggregate_shard', true), '')::smallint,
                    (pg_backend_pid() % 16)::smallint)
$$;

-- Customers' visits, folded into their rows and the histograms of their purchase counts, overall
-- and per store: one element per (store, customer) with its purchases and first and last
-- instant. The tills' trigger calls it for each statement; the loader calls it for the visits
-- its import left in import_visits, one slice of customers at a time. In key order: no
-- deadlocks between writers.
CREATE FUNCTION fold_customer_visits(
    visit_stores text[], visit_customers uuid[], visit_purchases integer[],
    visit_firsts timestamptz[], visit_lasts timestamptz[]
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := aggregate_shard();
BEGIN
    WITH store_visit AS (
        SELECT * FROM unnest(visit_stores, visit_customers, visit_purchases, visit_firsts,
                             visit_lasts) AS v(supermarket_id, customer_id, purchases, first_at, last_at)
    ),
    visit AS (
        SELECT customer_id, sum(purchases)::int AS purchases,
               min(first_at) AS first_at, max(last_at) AS last_at
        FROM store_visit GROUP BY customer_id
    ),
    customer AS (
        INSERT INTO customers AS c (id, purchase_count, first_purchase_at, last_purchase_at)
        SELECT customer_id, purchases, first_at, last_at FROM visit ORDER BY customer_id
        ON CONFLICT (id) DO UPDATE
            SET purchase_count = c.purchase_count + excluded.purchase_count,
                first_purchase_at = least(c.first_purchase_at, excluded.first_purchase_at),
                last_purchase_at = greatest(c.last_purchase_at, excluded.last_purchase_at)
        RETURNING c.id, c.purchase_count
    ),
    count_move AS (  -- each customer leaves the bucket of the old count for the new one
        SELECT c.purchase_count AS bucket, 1 AS delta FROM customer c
        UNION ALL
        SELECT c.purchase_count - v.purchases, -1
        FROM customer c JOIN visit v ON v.customer_id = c.id
        WHERE c.purchase_count > v.purchases
    )
    INSERT INTO customer_purchase_counts AS h (purchase_count, shard, customers)
    SELECT bucket, my_shard, sum(delta) FROM count_move GROUP BY bucket ORDER BY bucket
    ON CONFLICT (purchase_count, shard) DO UPDATE SET customers = h.customers + excluded.customers;

    -- The same per store.
    WITH visit AS (
        SELECT * FROM unnest(visit_stores, visit_customers, visit_purchases)
            AS v(supermarket_id, customer_id, purchases)
    ),
    customer AS (
        INSERT INTO store_customers AS c (supermarket_id, customer_id, purchase_count)
        SELECT supermarket_id, customer_id, purchases FROM visit
        ORDER BY supermarket_id, customer_id
        ON CONFLICT (supermarket_id, customer_id) DO UPDATE
            SET purchase_count = c.purchase_count + excluded.purchase_count
        RETURNING c.supermarket_id, c.customer_id, c.purchase_count
    ),
    count_move AS (
        SELECT supermarket_id, purchase_count AS bucket, 1 AS delta FROM customer
        UNION ALL
        SELECT c.supermarket_id, c.purchase_count - v.purchases, -1
        FROM customer c JOIN visit v USING (supermarket_id, customer_id)
        WHERE c.purchase_count > v.purchases
    )
    INSERT INTO store_customer_purchase_counts AS h (supermarket_id, purchase_count, shard, customers)
    SELECT supermarket_id, bucket, my_shard, sum(delta) FROM count_move
    GROUP BY supermarket_id, bucket ORDER BY supermarket_id, bucket
    ON CONFLICT (supermarket_id, purchase_count, shard)
        DO UPDATE SET customers = h.customers + excluded.customers;
END
$$;

-- An import's customer visits, waiting to be folded. The loader sets `shop.defer_customer_fold`
-- for its chunks: their visits land here, in the chunk's transaction, instead of updating each
-- customer once per chunk. At the end the loader folds them once per customer, in small slices
-- of customers in key order; each slice moves `folded_through` in the transaction that folds it,
-- so a visit is folded exactly once, also after a crash (the next import folds what is left
-- before it stores anything), and the table is emptied when every slice is done.
CREATE TABLE import_visits (
    supermarket_id text NOT NULL,
    customer_id uuid NOT NULL,
    purchases integer NOT NULL,
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL
);
CREATE TABLE import_fold_progress (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    folded_through uuid  -- NULL: nothing of the waiting visits is folded yet
);
INSERT INTO import_fold_progress DEFAULT VALUES;

CREATE OR REPLACE FUNCTION count_purchases() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := aggregate_shard();
BEGIN
    IF EXISTS (SELECT 1 FROM new_purchases n
               WHERE NOT EXISTS (SELECT 1 FROM supermarkets s WHERE s.id = n.supermarket_id)) THEN
        RAISE EXCEPTION 'purchases refer to an unknown supermarket'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF current_setting('shop.defer_customer_fold', true) = 'on' THEN
        INSERT INTO import_visits (supermarket_id, customer_id, purchases, first_at, last_at)
        SELECT supermarket_id, customer_id, count(*), min(purchased_at), max(purchased_at)
        FROM new_purchases GROUP BY supermarket_id, customer_id;
    ELSE
        PERFORM fold_customer_visits(array_agg(supermarket_id), array_agg(customer_id),
                                     array_agg(purchases), array_agg(first_at), array_agg(last_at))
        FROM (SELECT supermarket_id, customer_id, count(*)::int AS purchases,
                     min(purchased_at) AS first_at, max(purchased_at) AS last_at
              FROM new_purchases GROUP BY supermarket_id, customer_id) v;
    END IF;

    -- Daily figures per store, with the customers new to that day and store.
    WITH sale AS (
        SELECT (purchased_at AT TIME ZONE 'UTC')::date AS day, supermarket_id, customer_id,
               total_amount
        FROM new_purchases
    ),
    first_visit AS (
        INSERT INTO daily_customers (day, supermarket_id, customer_id)
        SELECT DISTINCT day, supermarket_id, customer_id FROM sale
        ORDER BY day, supermarket_id, customer_id
        ON CONFLICT DO NOTHING
        RETURNING day, supermarket_id
    ),
    new_customers AS (
        SELECT day, supermarket_id, count(*) AS customers FROM first_visit GROUP BY 1, 2
    ),
    day_total AS (
        SELECT day, supermarket_id, count(*) AS purchases, sum(total_amount) AS revenue
        FROM sale GROUP BY 1, 2
    )
    INSERT INTO daily_sales AS d (day, supermarket_id, shard, purchases, revenue, customers)
    SELECT t.day, t.supermarket_id, my_shard, t.purchases, t.revenue, coalesce(n.customers, 0)
    FROM day_total t LEFT JOIN new_customers n USING (day, supermarket_id)
    ORDER BY t.day, t.supermarket_id
    ON CONFLICT (day, supermarket_id, shard) DO UPDATE
        SET purchases = d.purchases + excluded.purchases,
            revenue = d.revenue + excluded.revenue,
            customers = d.customers + excluded.customers;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION count_units_sold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := aggregate_shard();
BEGIN
    IF EXISTS (SELECT 1 FROM new_items n
               WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = n.product_id)) THEN
        RAISE EXCEPTION 'purchase lines refer to an unknown product'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    WITH units_by_day AS (
        SELECT (purchased_at AT TIME ZONE 'UTC')::date AS day, supermarket_id, product_id,
               sum(quantity) AS units, sum(quantity * unit_price) AS revenue
        FROM new_items GROUP BY 1, 2, 3
    ),
    all_time AS (
        INSERT INTO product_sales AS s (product_id, supermarket_id, shard, units_sold)
        SELECT product_id, supermarket_id, my_shard, sum(units) FROM units_by_day
        GROUP BY product_id, supermarket_id ORDER BY product_id, supermarket_id
        ON CONFLICT (product_id, supermarket_id, shard) DO UPDATE
            SET units_sold = s.units_sold + excluded.units_sold
    ),
    per_product AS (
        INSERT INTO daily_product_sales AS s (day, supermarket_id, product_id, shard, units, revenue)
        SELECT day, supermarket_id, product_id, my_shard, units, revenue FROM units_by_day
        ORDER BY day, supermarket_id, product_id
        ON CONFLICT (day, supermarket_id, product_id, shard) DO UPDATE
            SET units = s.units + excluded.units, revenue = s.revenue + excluded.revenue
    )
    INSERT INTO daily_sales AS d (day, supermarket_id, shard, units)
    SELECT day, supermarket_id, my_shard, sum(units) FROM units_by_day
    GROUP BY day, supermarket_id ORDER BY day, supermarket_id
    ON CONFLICT (day, supermarket_id, shard) DO UPDATE SET units = d.units + excluded.units;
    RETURN NULL;
END
$$;

-- The lock that serialises partition creation is numbered once, in db/locks.py, and passed in.
DROP FUNCTION create_purchase_months(date, date);
CREATE FUNCTION create_purchase_months(first_month date, last_month date, lock_key bigint)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month date := date_trunc('month', first_month);
    created integer := 0;
    suffix text;
    low timestamptz;
    high timestamptz;
BEGIN
    WHILE month <= last_month LOOP
        suffix := to_char(month, '"y"YYYY"m"MM');
        low := month::timestamp AT TIME ZONE 'UTC';
        high := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        IF to_regclass('purchases_' || suffix) IS NULL THEN
            PERFORM pg_advisory_xact_lock(lock_key);
            IF to_regclass('purchases_' || suffix) IS NULL THEN
                PERFORM move_month_out_of_default(suffix, low, high);
                created := created + 1;
            END IF;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN created;
END
$$;
