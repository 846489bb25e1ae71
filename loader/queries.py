"""All SQL of the loader.

The CSV files are streamed into staging tables with COPY (PostgreSQL parses the CSV), then
checked, keyed and stored set-based, in one transaction: no per-row work in Python.
"""

# Serialises loaders: two at once would both see a purchase as new. Naive times are UTC.
BEGIN_LOAD = """
SELECT pg_advisory_xact_lock(7210002);
SET LOCAL TimeZone = 'UTC';
"""

# `line` is the line in the file: the header is line 1, so numbering starts at 2.
CREATE_STAGING = """
CREATE TEMP TABLE staged_supermarket (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2), id text
) ON COMMIT DROP;
CREATE TEMP TABLE staged_product (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2), product_name text, unit_price text
) ON COMMIT DROP;
CREATE TEMP TABLE staged_purchase (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2),
    supermarket_id text, "timestamp" text, user_id text, items_list text, total_amount text
) ON COMMIT DROP;
"""

# One row per (purchase line, product name) with the number of times it was named.
SPLIT_BASKETS = """
CREATE TEMP TABLE staged_line ON COMMIT DROP AS
SELECT s.line, btrim(name) AS product_name, count(*)::int AS quantity
FROM staged_purchase s, unnest(string_to_array(coalesce(s.items_list, ''), ',')) AS name
GROUP BY s.line, btrim(name);
ANALYZE staged_line;
"""

MONEY = r"'^\d{1,10}(\.\d{1,2})?$'"

# Every problem of every file, as (file, line, reason). Purchases may name stores and
# products that the database has already, besides those of the files.
PROBLEMS = rf"""
WITH known_store AS (
    SELECT id FROM supermarkets UNION SELECT id FROM staged_supermarket
),
known_product AS (
    SELECT name FROM products UNION SELECT product_name FROM staged_product
)
SELECT 'supermarkets.csv' AS file, line, format('bad supermarket id %L', coalesce(id, '')) AS reason
FROM staged_supermarket WHERE coalesce(id, '') !~ '^[A-Za-z0-9_-]{{1,32}}$'
UNION ALL
SELECT 'supermarkets.csv', line, format('duplicate supermarket %L', id)
FROM (SELECT line, id, row_number() OVER (PARTITION BY id ORDER BY line) AS n
      FROM staged_supermarket) d WHERE n > 1
UNION ALL
SELECT 'products_list.csv', line, format('bad product name %L', coalesce(product_name, ''))
FROM staged_product WHERE coalesce(length(product_name), 0) NOT BETWEEN 1 AND 100
UNION ALL
SELECT 'products_list.csv', line, format('duplicate product %L', product_name)
FROM (SELECT line, product_name, row_number() OVER (PARTITION BY product_name ORDER BY line) AS n
      FROM staged_product) d WHERE n > 1
UNION ALL
SELECT 'products_list.csv', line,
       CASE WHEN coalesce(unit_price, '') ~ '^-'
              OR (coalesce(unit_price, '') ~ {MONEY} AND unit_price::numeric = 0)
            THEN format('unit_price %L must be greater than zero', unit_price)
            ELSE format('unit_price %L is not a number with at most two decimal places',
                        coalesce(unit_price, '')) END
FROM staged_product
WHERE CASE WHEN coalesce(unit_price, '') ~ {MONEY} THEN unit_price::numeric = 0 ELSE true END
UNION ALL
SELECT 'purchases.csv', line, format('unknown supermarket %L', coalesce(supermarket_id, ''))
FROM staged_purchase s WHERE NOT EXISTS (SELECT 1 FROM known_store k WHERE k.id = s.supermarket_id)
UNION ALL
SELECT 'purchases.csv', line,
       format('timestamp %L is not an ISO 8601 date and time', coalesce("timestamp", ''))
FROM staged_purchase
WHERE NOT (coalesce("timestamp", '') ~ '^\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}'
           AND input_is_valid("timestamp", 'timestamptz'))
UNION ALL
SELECT 'purchases.csv', line, format('user_id %L is not a UUID', coalesce(user_id, ''))
FROM staged_purchase WHERE NOT input_is_valid(coalesce(user_id, ''), 'uuid')
UNION ALL
SELECT 'purchases.csv', line, 'items_list is empty: a purchase needs at least one item'
FROM staged_purchase WHERE coalesce(btrim(items_list), '') = ''
UNION ALL
SELECT 'purchases.csv', line, 'items_list has an empty product name'
FROM staged_line WHERE product_name = ''
GROUP BY line
UNION ALL
SELECT 'purchases.csv', line, 'more than 100 items in one purchase'
FROM staged_purchase
WHERE length(items_list) - length(replace(items_list, ',', '')) >= 100
UNION ALL
SELECT 'purchases.csv', line,
       'unknown product' || CASE WHEN count(*) > 1 THEN 's ' ELSE ' ' END
       || string_agg(quote_literal(product_name), ', ' ORDER BY product_name)
FROM staged_line l
WHERE product_name <> ''
  AND NOT EXISTS (SELECT 1 FROM known_product k WHERE k.name = l.product_name)
GROUP BY line
UNION ALL
SELECT 'purchases.csv', line,
       CASE WHEN coalesce(total_amount, '') ~ '^-'
            THEN format('total_amount %L must be zero or more', total_amount)
            ELSE format('total_amount %L is not a number with at most two decimal places',
                        coalesce(total_amount, '')) END
FROM staged_purchase WHERE NOT (coalesce(total_amount, '') ~ {MONEY})
ORDER BY file, line
LIMIT $1
"""

ADD_SUPERMARKETS = """
INSERT INTO supermarkets (id) SELECT id FROM staged_supermarket ORDER BY id
ON CONFLICT (id) DO NOTHING
"""

# The CSV is the catalog's source: a changed price replaces the old one.
UPSERT_PRODUCTS = """
INSERT INTO products AS p (name, unit_price)
SELECT product_name, unit_price::numeric FROM staged_product ORDER BY product_name
ON CONFLICT (name) DO UPDATE SET unit_price = excluded.unit_price
WHERE p.unit_price IS DISTINCT FROM excluded.unit_price
"""

# Checked purchases with their import key: the row's meaning (store, instant, customer,
# items as written, total), so loading the same file again finds every row stored already.
KEY_PURCHASES = """
CREATE TEMP TABLE load_purchase ON COMMIT DROP AS
SELECT line, supermarket_id, purchased_at, customer_id, total_amount,
       md5(concat_ws('|', supermarket_id, purchased_at, customer_id, items, total_amount))::uuid
           AS import_key
FROM (
    SELECT line, supermarket_id, "timestamp"::timestamptz AS purchased_at,
           user_id::uuid AS customer_id, total_amount::numeric(12, 2) AS total_amount,
           btrim(regexp_replace(items_list, '\\s*,\\s*', ',', 'g')) AS items
    FROM staged_purchase
) p;
ANALYZE load_purchase;
"""

# Rows that repeat an earlier row of the file exactly: one purchase exported twice.
REPEATED_ROWS = """
SELECT min(line) AS first_line, array_agg(line ORDER BY line) AS lines
FROM load_purchase GROUP BY import_key HAVING count(*) > 1
"""
DROP_REPEATS = "DELETE FROM load_purchase WHERE line = ANY($1::bigint[])"

# Rows whose recorded total differs from today's catalog: kept as recorded, reported.
TOTALS_OFF_CATALOG = """
SELECT p.line, p.total_amount, sum(c.unit_price * l.quantity) AS catalog_total
FROM load_purchase p
JOIN staged_line l USING (line)
JOIN products c ON c.name = l.product_name
GROUP BY p.line, p.total_amount
HAVING sum(c.unit_price * l.quantity) <> p.total_amount
ORDER BY p.line
LIMIT $1
"""

PURCHASE_MONTHS = """
SELECT create_purchase_months(min(purchased_at)::date, max(purchased_at)::date)
FROM load_purchase
"""

# Stores the purchases not stored by an earlier load, with their lines priced from the
# catalog; the triggers fold the aggregates and rollups. Returns how many were new.
STORE_NEW_PURCHASES = """
WITH purchase AS (
    INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount, import_key)
    SELECT purchased_at, supermarket_id, customer_id, total_amount, import_key
    FROM load_purchase
    ORDER BY purchased_at
    ON CONFLICT (import_key, purchased_at) DO NOTHING
    RETURNING id, purchased_at, supermarket_id, import_key
),
item AS (
    INSERT INTO purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT p.id, p.purchased_at, p.supermarket_id, c.id, l.quantity, c.unit_price
    FROM purchase p
    JOIN load_purchase k USING (import_key)
    JOIN staged_line l ON l.line = k.line
    JOIN products c ON c.name = l.product_name
    RETURNING 1
)
SELECT (SELECT count(*) FROM purchase) AS purchases, (SELECT count(*) FROM item) AS lines
"""
