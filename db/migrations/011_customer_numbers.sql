-- Exact distinct customers over any range, fast at any size. Each customer gets a
-- dense integer number; each (day, store, customer) row of daily_customers carries it, and the
-- transaction that wrote it. The analytics hold one compressed bitmap of numbers per store and
-- day in memory and union the days of a range; they follow new rows by transaction: every
-- row from a transaction older than the oldest one still running at the last read has been
-- read (pg_snapshot_xmin), so re-reading from there misses nothing, and a set takes a number
-- twice without harm.

CREATE SEQUENCE customer_numbers_seq AS integer;
CREATE TABLE customer_numbers (
    customer_id uuid PRIMARY KEY,
    number integer NOT NULL DEFAULT nextval('customer_numbers_seq') UNIQUE
);
ALTER SEQUENCE customer_numbers_seq OWNED BY customer_numbers.number;
INSERT INTO customer_numbers (customer_id)
SELECT id FROM customers ORDER BY first_purchase_at, id;
INSERT INTO customer_numbers (customer_id)
SELECT DISTINCT customer_id FROM daily_customers ORDER BY 1
ON CONFLICT DO NOTHING;

ALTER TABLE daily_customers
    ADD COLUMN number integer,
    ADD COLUMN written_by xid8 NOT NULL DEFAULT pg_current_xact_id();
UPDATE daily_customers d SET number = n.number
FROM customer_numbers n WHERE n.customer_id = d.customer_id;
ALTER TABLE daily_customers ALTER COLUMN number SET NOT NULL;
CREATE INDEX daily_customers_by_writer ON daily_customers (written_by);

-- Bumped when rows of daily_customers are removed (a store's days recounted): a reader then
-- reads everything again.
CREATE TABLE rollup_generation (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation bigint NOT NULL
);
INSERT INTO rollup_generation (generation) VALUES (1);

GRANT SELECT ON customer_numbers, rollup_generation TO supermarket_analytics;

-- The purchases trigger numbers new customers in a statement of its own, before the daily
-- rows, so a customer a concurrent sale numbered first (and committed while this one waited on
-- it) is visible to the next statement; then the daily rows take their numbers.
CREATE OR REPLACE FUNCTION count_purchases() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
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

    INSERT INTO customer_numbers (customer_id)
    SELECT DISTINCT customer_id FROM new_purchases ORDER BY 1
    ON CONFLICT DO NOTHING;

    -- Daily figures per store, with the customers new to that day and store.
    WITH sale AS (
        SELECT (n.purchased_at AT TIME ZONE s.time_zone)::date AS day, n.supermarket_id,
               n.customer_id, n.total_amount
        FROM new_purchases n JOIN supermarkets s ON s.id = n.supermarket_id
    ),
    first_visit AS (
        INSERT INTO daily_customers (day, supermarket_id, customer_id, number)
        SELECT DISTINCT v.day, v.supermarket_id, v.customer_id, c.number
        FROM sale v JOIN customer_numbers c ON c.customer_id = v.customer_id
        ORDER BY v.day, v.supermarket_id, v.customer_id
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

-- A store's days recounted (010), now with the customers' numbers, and telling the readers.
CREATE OR REPLACE FUNCTION rebuild_store_days(store text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    zone text := (SELECT time_zone FROM supermarkets WHERE id = store);
BEGIN
    LOCK TABLE purchases, purchase_items IN SHARE MODE;
    UPDATE rollup_generation SET generation = generation + 1;
    DELETE FROM daily_customers WHERE supermarket_id = store;
    DELETE FROM daily_product_sales WHERE supermarket_id = store;
    DELETE FROM daily_sales WHERE supermarket_id = store;
    INSERT INTO daily_customers (day, supermarket_id, customer_id, number)
    SELECT v.day, v.supermarket_id, v.customer_id, c.number
    FROM (SELECT DISTINCT (purchased_at AT TIME ZONE zone)::date AS day, supermarket_id,
                 customer_id
          FROM purchases WHERE supermarket_id = store) v
    JOIN customer_numbers c ON c.customer_id = v.customer_id;
    INSERT INTO daily_product_sales (day, supermarket_id, product_id, shard, units, revenue)
    SELECT (purchased_at AT TIME ZONE zone)::date, supermarket_id, product_id, 0,
           sum(quantity), sum(quantity * unit_price)
    FROM purchase_items WHERE supermarket_id = store
    GROUP BY 1, 2, 3;
    INSERT INTO daily_sales (day, supermarket_id, shard, purchases, units, revenue, customers)
    SELECT p.day, store, 0, p.purchases, coalesce(u.units, 0), p.revenue,
           coalesce(c.customers, 0)
    FROM (SELECT (purchased_at AT TIME ZONE zone)::date AS day, count(*) AS purchases,
                 sum(total_amount) AS revenue
          FROM purchases WHERE supermarket_id = store GROUP BY 1) p
    LEFT JOIN (SELECT day, sum(units) AS units FROM daily_product_sales
               WHERE supermarket_id = store GROUP BY day) u USING (day)
    LEFT JOIN (SELECT day, count(*) AS customers FROM daily_customers
               WHERE supermarket_id = store GROUP BY day) c USING (day);
END
$$;
