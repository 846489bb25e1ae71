"""All SQL of the loader."""

# Serialises loaders: two at once would both see a purchase as new.
LOCK_LOADER = "SELECT pg_advisory_xact_lock(7210002)"

ADD_SUPERMARKETS = """
INSERT INTO supermarkets (id) SELECT unnest($1::text[])
ON CONFLICT (id) DO NOTHING
"""

# The CSV is the catalog's source: a changed price replaces the old one.
UPSERT_PRODUCTS = """
INSERT INTO products AS p (name, unit_price)
SELECT * FROM unnest($1::text[], $2::numeric[])
ON CONFLICT (name) DO UPDATE SET unit_price = excluded.unit_price
WHERE p.unit_price IS DISTINCT FROM excluded.unit_price
"""

CREATE_STAGING = """
CREATE TEMP TABLE staged_purchase (
    import_key uuid NOT NULL,
    supermarket_id text NOT NULL,
    customer_id uuid NOT NULL,
    purchased_at timestamptz NOT NULL,
    total_amount numeric(12, 2) NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE staged_line (
    import_key uuid NOT NULL,
    product_id integer NOT NULL,
    quantity integer NOT NULL
) ON COMMIT DROP;
"""
STAGED_PURCHASE_COLUMNS = (
    "import_key",
    "supermarket_id",
    "customer_id",
    "purchased_at",
    "total_amount",
)
STAGED_LINE_COLUMNS = ("import_key", "product_id", "quantity")

# Stores the staged purchases not stored by an earlier load, with their lines priced from the
# catalog; the triggers fold the aggregates. Returns how many purchases and lines were new.
STORE_NEW_PURCHASES = """
WITH purchase AS (
    INSERT INTO purchases (supermarket_id, customer_id, purchased_at, total_amount, import_key)
    SELECT supermarket_id, customer_id, purchased_at, total_amount, import_key
    FROM staged_purchase
    ORDER BY purchased_at
    ON CONFLICT (import_key) DO NOTHING
    RETURNING id, import_key
),
item AS (
    INSERT INTO purchase_items (purchase_id, product_id, quantity, unit_price)
    SELECT p.id, l.product_id, l.quantity, c.unit_price
    FROM staged_line l
    JOIN purchase p USING (import_key)
    JOIN products c ON c.id = l.product_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM purchase) AS purchases, (SELECT count(*) FROM item) AS lines
"""
