-- A till's sale counted by a fold a moment later, not by its own statement.
--
-- The rollups' triggers made one sale write about twenty rows through ten nested statements,
-- three to four times what the sale itself costs, and most of it on counters every till
-- shares. A session that sets `shop.fold_sales_later = on` (the cash registers' pools do)
-- now only queues its sales and lines, in rows of their own, and a fold adds a whole queue to
-- the rollups in one set-based pass: each counter once per fold, not once per sale. Every
-- other session (the loader, psql) counts in its own statement as before.
--
-- Exactness: the fold deletes the queue rows it counts in the transaction that counts them,
-- so each sale is counted once, also after a crash. A reader that must see every sale
-- acknowledged before its question folds first (fold_waiting_sales with wait), so a sale
-- still counts from its 201.
CREATE TABLE sales_to_fold (
    supermarket_id text NOT NULL,
    customer_id uuid NOT NULL,
    purchased_at timestamptz NOT NULL,
    total_amount numeric(12, 2) NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
CREATE TABLE lines_to_fold (
    supermarket_id text NOT NULL,
    product_id integer NOT NULL,
    purchased_at timestamptz NOT NULL,
    quantity integer NOT NULL,
    unit_price numeric(10, 2) NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

-- The rollups of a set of sales, one element per sale: shared by the triggers (a statement's
-- new rows) and the fold (a queue's). Customers' visits per store go to fold_customer_visits.
CREATE FUNCTION count_customers(stores text[], buyers uuid[], moments timestamptz[])
RETURNS void LANGUAGE sql AS $$
    SELECT fold_customer_visits(array_agg(v.store), array_agg(v.buyer), array_agg(v.purchases),
                                array_agg(v.first_at), array_agg(v.last_at))
    FROM (SELECT t.store, t.buyer, count(*)::int AS purchases, min(t.at) AS first_at,
                 max(t.at) AS last_at
          FROM unnest(stores, buyers, moments) AS t(store, buyer, at)
          GROUP BY t.store, t.buyer) v
$$;

-- New customers are numbered in a statement of their own, before the daily rows: a customer
-- a concurrent writer numbered first (committed while this one waited on it) is then visible
-- to the statement that takes the numbers. Only customers without a number ask the sequence.
CREATE FUNCTION count_sales_days(stores text[], buyers uuid[], moments timestamptz[],
                                 totals numeric[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := aggregate_shard();
BEGIN
    INSERT INTO customer_numbers (customer_id)
    SELECT DISTINCT b.buyer FROM unnest(buyers) AS b(buyer)
    WHERE NOT EXISTS (SELECT 1 FROM customer_numbers c WHERE c.customer_id = b.buyer)
    ORDER BY 1
    ON CONFLICT DO NOTHING;

    WITH sale AS (
        SELECT (t.at AT TIME ZONE s.time_zone)::date AS day, t.store AS supermarket_id,
               t.buyer AS customer_id, t.total
        FROM unnest(stores, buyers, moments, totals) AS t(store, buyer, at, total)
        JOIN supermarkets s ON s.id = t.store
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
        SELECT day, supermarket_id, count(*) AS purchases, sum(total) AS revenue
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
END
$$;

CREATE FUNCTION count_lines(stores text[], products integer[], moments timestamptz[],
                            quantities integer[], prices numeric[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := aggregate_shard();
BEGIN
    WITH units_by_day AS (
        SELECT (t.at AT TIME ZONE s.time_zone)::date AS day, t.store AS supermarket_id,
               t.product AS product_id, sum(t.quantity) AS units,
               sum(t.quantity * t.price) AS revenue
        FROM unnest(stores, products, moments, quantities, prices)
            AS t(store, product, at, quantity, price)
        JOIN supermarkets s ON s.id = t.store
        GROUP BY 1, 2, 3
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
END
$$;

CREATE OR REPLACE FUNCTION count_purchases() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_purchases n
               WHERE NOT EXISTS (SELECT 1 FROM supermarkets s WHERE s.id = n.supermarket_id)) THEN
        RAISE EXCEPTION 'purchases refer to an unknown supermarket'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF current_setting('shop.fold_sales_later', true) = 'on' THEN
        INSERT INTO sales_to_fold (supermarket_id, customer_id, purchased_at, total_amount)
        SELECT supermarket_id, customer_id, purchased_at, total_amount FROM new_purchases;
        RETURN NULL;
    END IF;
    IF current_setting('shop.defer_customer_fold', true) = 'on' THEN
        INSERT INTO import_visits (supermarket_id, customer_id, purchases, first_at, last_at)
        SELECT supermarket_id, customer_id, count(*), min(purchased_at), max(purchased_at)
        FROM new_purchases GROUP BY supermarket_id, customer_id;
    ELSE
        PERFORM count_customers(array_agg(supermarket_id), array_agg(customer_id),
                                array_agg(purchased_at))
        FROM new_purchases;
    END IF;
    PERFORM count_sales_days(array_agg(supermarket_id), array_agg(customer_id),
                             array_agg(purchased_at), array_agg(total_amount))
    FROM new_purchases;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION count_units_sold() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_items n
               WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = n.product_id)) THEN
        RAISE EXCEPTION 'purchase lines refer to an unknown product'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF current_setting('shop.fold_sales_later', true) = 'on' THEN
        INSERT INTO lines_to_fold (supermarket_id, product_id, purchased_at, quantity, unit_price)
        SELECT supermarket_id, product_id, purchased_at, quantity, unit_price FROM new_items;
    ELSE
        PERFORM count_lines(array_agg(supermarket_id), array_agg(product_id),
                            array_agg(purchased_at), array_agg(quantity), array_agg(unit_price))
        FROM new_items;
    END IF;
    RETURN NULL;
END
$$;

-- Counts every queued sale and line its statements see and deletes them in the same
-- transaction. The caller serialises folds; answers how many sales it counted.
CREATE FUNCTION fold_queue() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    stores text[]; buyers uuid[]; moments timestamptz[]; totals numeric[];
    products integer[]; quantities integer[]; prices numeric[];
    sales integer;
BEGIN
    WITH taken AS (DELETE FROM sales_to_fold RETURNING *)
    SELECT array_agg(supermarket_id), array_agg(customer_id), array_agg(purchased_at),
           array_agg(total_amount), count(*)
    INTO stores, buyers, moments, totals, sales
    FROM taken;
    IF sales > 0 THEN
        PERFORM count_customers(stores, buyers, moments);
        PERFORM count_sales_days(stores, buyers, moments, totals);
    END IF;
    WITH taken AS (DELETE FROM lines_to_fold RETURNING *)
    SELECT array_agg(supermarket_id), array_agg(product_id), array_agg(purchased_at),
           array_agg(quantity), array_agg(unit_price)
    INTO stores, products, moments, quantities, prices
    FROM taken;
    IF stores IS NOT NULL THEN
        PERFORM count_lines(stores, products, moments, quantities, prices);
    END IF;
    RETURN sales;
END
$$;

-- One fold at a time, under the advisory lock `lock_key`. With `wait`, waits for a fold in
-- progress (whose sales the caller must see) and commits only once a synchronous standby
-- has applied it, so a question then read on that standby sees it too; without, returns
-- NULL at once when another fold is running. Answers the instant every sale committed before
-- it is counted by.
CREATE FUNCTION fold_waiting_sales(lock_key bigint, wait boolean)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    counted_through timestamptz;
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock(lock_key);
        PERFORM set_config('synchronous_commit', 'remote_apply', true);
    ELSIF NOT pg_try_advisory_xact_lock(lock_key) THEN
        RETURN NULL;
    END IF;
    counted_through := clock_timestamp();
    PERFORM fold_queue();
    RETURN counted_through;
END
$$;

-- A store's days recounted (011) count the queued sales too: the queues are locked against
-- folds (SHARE waits for a fold in progress and holds the next), folded here, then recounted
-- from the stored sales, so none is counted twice.
CREATE OR REPLACE FUNCTION rebuild_store_days(store text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    zone text := (SELECT time_zone FROM supermarkets WHERE id = store);
BEGIN
    LOCK TABLE purchases, purchase_items, sales_to_fold, lines_to_fold IN SHARE MODE;
    PERFORM fold_queue();
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

-- The queues are the writers' own; a fold is the only way into them from outside. The cash
-- registers fold in the background, the analytics before a question.
REVOKE ALL ON sales_to_fold, lines_to_fold FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION count_customers(text[], uuid[], timestamptz[]),
    count_sales_days(text[], uuid[], timestamptz[], numeric[]),
    count_lines(text[], integer[], timestamptz[], integer[], numeric[]),
    fold_queue(), fold_waiting_sales(bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fold_waiting_sales(bigint, boolean)
    TO supermarket_cash_register, supermarket_analytics;
