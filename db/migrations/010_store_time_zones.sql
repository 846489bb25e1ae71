-- Each store's business day in its own time zone. A store has an IANA zone (the
-- loader sets it from supermarkets.csv or CHAIN_TIMEZONE; UTC until then, which is what every
-- day was before), and the daily rollups are kept by the store's local day: a sale at 23:30 in
-- New York counts on that New York day, whatever the UTC date. Days have 23 or 25 hours when
-- the clocks change; a local date is still one day.

-- A name PostgreSQL knows as a time zone. Declared immutable for the CHECK below: the zone
-- database changes only with a PostgreSQL upgrade, and a zone that disappears then keeps its
-- stores' rows valid as they are.
CREATE FUNCTION is_time_zone(zone text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    PERFORM now() AT TIME ZONE zone;
    RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END
$$;

ALTER TABLE supermarkets
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
        CONSTRAINT supermarkets_time_zone_known CHECK (is_time_zone(time_zone));

-- The statement-level triggers count each sale on its store's local day (the rest unchanged
-- from 005).

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

    -- Daily figures per store, with the customers new to that day and store.
    WITH sale AS (
        SELECT (n.purchased_at AT TIME ZONE s.time_zone)::date AS day, n.supermarket_id,
               n.customer_id, n.total_amount
        FROM new_purchases n JOIN supermarkets s ON s.id = n.supermarket_id
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    my_shard smallint := aggregate_shard();
BEGIN
    IF EXISTS (SELECT 1 FROM new_items n
               WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = n.product_id)) THEN
        RAISE EXCEPTION 'purchase lines refer to an unknown product'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    WITH units_by_day AS (
        SELECT (n.purchased_at AT TIME ZONE s.time_zone)::date AS day, n.supermarket_id,
               n.product_id, sum(n.quantity) AS units, sum(n.quantity * n.unit_price) AS revenue
        FROM new_items n JOIN supermarkets s ON s.id = n.supermarket_id
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
    RETURN NULL;
END
$$;

-- One store's daily rollups recounted from its sales, by its local day: when its zone changes,
-- and once here for every store. SHARE locks wait for the sales in flight and hold new ones
-- until the recount commits, so no sale is counted twice or missed; a zone changes rarely.
CREATE FUNCTION rebuild_store_days(store text) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    zone text := (SELECT time_zone FROM supermarkets WHERE id = store);
BEGIN
    LOCK TABLE purchases, purchase_items IN SHARE MODE;
    DELETE FROM daily_customers WHERE supermarket_id = store;
    DELETE FROM daily_product_sales WHERE supermarket_id = store;
    DELETE FROM daily_sales WHERE supermarket_id = store;
    INSERT INTO daily_customers (day, supermarket_id, customer_id)
    SELECT DISTINCT (purchased_at AT TIME ZONE zone)::date, supermarket_id, customer_id
    FROM purchases WHERE supermarket_id = store;
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

CREATE FUNCTION rebuild_days_of_moved_store() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    PERFORM rebuild_store_days(NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER supermarkets_moved_zone AFTER UPDATE OF time_zone ON supermarkets
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION rebuild_days_of_moved_store();

-- Existing databases: every store's days recounted (all UTC here, so the figures stay as they
-- were; the counters' shards fold into one row per day).
SELECT rebuild_store_days(id) FROM supermarkets ORDER BY id;
