-- Aggregates and daily rollups, kept exact by statement-level triggers in the same transaction
-- as the purchases, whoever writes them (till, loader, psql). Folded once per statement: one
-- upsert per distinct customer, count bucket, (product, store) and (day, store), however many
-- purchases the statement holds. Counters that every sale touches are sharded by database
-- session (pg_backend_pid() % 16), so concurrent sales rarely wait on one row; readers sum the
-- shards. A shard's count may go negative; only sums are meaningful. Days are UTC days.
-- Aggregate rows refer to stores, products and customers that the checks below guarantee;
-- they carry no foreign keys of their own (every sale would pay for them).

-- How many customers have made exactly N purchases: the sum of all rows is the number of
-- customers, the sum from N up the number of loyal customers.
CREATE TABLE customer_purchase_counts (
    purchase_count integer NOT NULL CHECK (purchase_count > 0),
    shard smallint NOT NULL,
    customers bigint NOT NULL,
    PRIMARY KEY (purchase_count, shard)
);

-- The same per store: a customer's purchases in one store, and the histogram of those.
CREATE TABLE store_customers (
    supermarket_id text NOT NULL,
    customer_id uuid NOT NULL,
    purchase_count integer NOT NULL CHECK (purchase_count > 0),
    PRIMARY KEY (supermarket_id, customer_id)
);
CREATE INDEX store_customers_by_purchase_count
    ON store_customers (supermarket_id, purchase_count DESC, customer_id);

CREATE TABLE store_customer_purchase_counts (
    supermarket_id text NOT NULL,
    purchase_count integer NOT NULL CHECK (purchase_count > 0),
    shard smallint NOT NULL,
    customers bigint NOT NULL,
    PRIMARY KEY (supermarket_id, purchase_count, shard)
);

-- Units sold per product and store, all time.
CREATE TABLE product_sales (
    product_id integer NOT NULL,
    supermarket_id text NOT NULL,
    shard smallint NOT NULL,
    units_sold bigint NOT NULL,
    PRIMARY KEY (product_id, supermarket_id, shard)
);

-- Per day and store: purchases, units, revenue (the totals charged) and distinct customers.
CREATE TABLE daily_sales (
    day date NOT NULL,
    supermarket_id text NOT NULL,
    shard smallint NOT NULL,
    purchases bigint NOT NULL DEFAULT 0,
    units bigint NOT NULL DEFAULT 0,
    revenue numeric(16, 2) NOT NULL DEFAULT 0,
    customers bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, supermarket_id, shard)
);

-- Who bought on which day in which store: makes daily_sales.customers exact, and answers
-- distinct customers over a date range.
CREATE TABLE daily_customers (
    day date NOT NULL,
    supermarket_id text NOT NULL,
    customer_id uuid NOT NULL,
    PRIMARY KEY (day, supermarket_id, customer_id)
);

-- Per day, store and product: units and line revenue (top products over a date range).
CREATE TABLE daily_product_sales (
    day date NOT NULL,
    supermarket_id text NOT NULL,
    product_id integer NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    revenue numeric(16, 2) NOT NULL,
    PRIMARY KEY (day, supermarket_id, product_id, shard)
);

CREATE FUNCTION count_purchases() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := pg_backend_pid() % 16;
BEGIN
    IF EXISTS (SELECT 1 FROM new_purchases n
               WHERE NOT EXISTS (SELECT 1 FROM supermarkets s WHERE s.id = n.supermarket_id)) THEN
        RAISE EXCEPTION 'purchases refer to an unknown supermarket'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- Customers, and the histogram of their purchase counts. In key order: no deadlocks.
    WITH visit AS (
        SELECT customer_id, count(*)::int AS purchases,
               min(purchased_at) AS first_at, max(purchased_at) AS last_at
        FROM new_purchases GROUP BY customer_id
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
        SELECT supermarket_id, customer_id, count(*)::int AS purchases
        FROM new_purchases GROUP BY supermarket_id, customer_id
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

CREATE TRIGGER purchases_counted
    AFTER INSERT ON purchases
    REFERENCING NEW TABLE AS new_purchases
    FOR EACH STATEMENT EXECUTE FUNCTION count_purchases();

CREATE FUNCTION count_units_sold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    my_shard smallint := pg_backend_pid() % 16;
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

CREATE TRIGGER purchase_items_counted
    AFTER INSERT ON purchase_items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION count_units_sold();

-- Months around today, so the first sales after a migration never wait for a partition.
SELECT create_purchase_months((now() - interval '1 month')::date, (now() + interval '3 months')::date);
