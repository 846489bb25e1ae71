-- The shop: stores, the catalog, customers, and purchases with their lines, partitioned by
-- month. Aggregates and daily rollups are in 002.
--
-- Integrity on the sales tables is checked per statement, not per row: a row-level foreign key
-- costs ~10 µs per row, and ~70 µs per line when it points at a partitioned table, more than
-- all the other work of a sale (measured: 100,000 loaded purchases took 27 s with them, 8 s
-- without). So the triggers of 002 check stores and products set-based for each statement,
-- stores and products cannot be deleted (a check cannot go stale), customers are created by
-- the same trigger from the purchases themselves, and lines are only ever written in the same
-- statement as their purchase (both writers do so; tests check for orphans).

CREATE TABLE supermarkets (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,32}$')
);

CREATE TABLE products (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name = btrim(name) AND length(name) BETWEEN 1 AND 100),
    unit_price numeric(10, 2) NOT NULL CHECK (unit_price > 0)
);

-- A customer exists from their first purchase on; rows are written by the purchases trigger.
CREATE TABLE customers (
    id uuid PRIMARY KEY,
    purchase_count integer NOT NULL CHECK (purchase_count > 0),
    first_purchase_at timestamptz NOT NULL,
    last_purchase_at timestamptz NOT NULL
);
-- /loyal-customers: most purchases first, paginated, without sorting the whole table.
CREATE INDEX customers_by_purchase_count ON customers (purchase_count DESC, id);

-- Purchases are append-only (a refund is a new record) and partitioned by month of sale, so a
-- date range reads only its months and old months can be archived whole.
CREATE SEQUENCE purchases_id_seq AS bigint;
CREATE TABLE purchases (
    id bigint NOT NULL DEFAULT nextval('purchases_id_seq'),
    purchased_at timestamptz NOT NULL,
    supermarket_id text NOT NULL,  -- checked per statement (002)
    customer_id uuid NOT NULL,     -- the customer is created by the trigger of 002
    total_amount numeric(12, 2) NOT NULL CHECK (total_amount >= 0),
    -- Set by the loader from the CSV row, so loading the same file twice stores it once.
    import_key uuid,
    PRIMARY KEY (id, purchased_at),
    UNIQUE (import_key, purchased_at)
) PARTITION BY RANGE (purchased_at);
ALTER SEQUENCE purchases_id_seq OWNED BY purchases.id;

-- Lines carry their purchase's time (the partition key) and store (for per-store rollups
-- without a join), both copied from the purchase, in the same statement, by the writer.
CREATE TABLE purchase_items (
    purchase_id bigint NOT NULL,
    purchased_at timestamptz NOT NULL,
    supermarket_id text NOT NULL,
    product_id integer NOT NULL,  -- checked per statement (002)
    quantity integer NOT NULL CHECK (quantity > 0),
    -- The price charged, which the catalog may since have changed.
    unit_price numeric(10, 2) NOT NULL CHECK (unit_price > 0),
    PRIMARY KEY (purchase_id, purchased_at, product_id)
) PARTITION BY RANGE (purchased_at);

-- Never a failed sale for want of a partition: rows of a month without one land here, and are
-- moved to their month when it is created.
CREATE TABLE purchases_default PARTITION OF purchases DEFAULT;
CREATE TABLE purchase_items_default PARTITION OF purchase_items DEFAULT;

-- Creates the monthly partitions of purchases and purchase_items from `first_month` through
-- `last_month` that do not exist yet, moving any rows of those months out of the defaults.
-- Idempotent; the services call it at start and daily, the loader for its data's months.
CREATE FUNCTION create_purchase_months(first_month date, last_month date) RETURNS integer
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
            PERFORM pg_advisory_xact_lock(7210003);
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

CREATE FUNCTION move_month_out_of_default(suffix text, low timestamptz, high timestamptz)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM purchases_default WHERE purchased_at >= low AND purchased_at < high)
    THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF purchases FOR VALUES FROM (%L) TO (%L)',
                       'purchases_' || suffix, low, high);
        EXECUTE format('CREATE TABLE %I PARTITION OF purchase_items FOR VALUES FROM (%L) TO (%L)',
                       'purchase_items_' || suffix, low, high);
        RETURN;
    END IF;
    -- Rows are waiting in the defaults: copy them to new tables, delete them from the
    -- defaults, then attach. Neither fires the insert triggers: the aggregates stand.
    EXECUTE format('CREATE TABLE %I (LIKE purchases INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   'purchases_' || suffix);
    EXECUTE format('CREATE TABLE %I (LIKE purchase_items INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   'purchase_items_' || suffix);
    EXECUTE format('INSERT INTO %I SELECT * FROM purchases_default '
                   'WHERE purchased_at >= %L AND purchased_at < %L', 'purchases_' || suffix, low, high);
    EXECUTE format('INSERT INTO %I SELECT * FROM purchase_items_default '
                   'WHERE purchased_at >= %L AND purchased_at < %L', 'purchase_items_' || suffix, low, high);
    DELETE FROM purchase_items_default WHERE purchased_at >= low AND purchased_at < high;
    DELETE FROM purchases_default WHERE purchased_at >= low AND purchased_at < high;
    EXECUTE format('ALTER TABLE purchases ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   'purchases_' || suffix, low, high);
    EXECUTE format('ALTER TABLE purchase_items ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   'purchase_items_' || suffix, low, high);
END
$$;

-- A store or product that has sold is referenced by the sales: retire it, never delete it.
CREATE FUNCTION refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are never deleted: sales refer to them', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER supermarkets_kept BEFORE DELETE ON supermarkets
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();
CREATE TRIGGER products_kept BEFORE DELETE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_delete();

-- Services keep the catalog in memory; this tells them when to read it again.
CREATE FUNCTION notify_catalog_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('catalog_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER products_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();

CREATE TRIGGER supermarkets_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON supermarkets
    FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_changed();
