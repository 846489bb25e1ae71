"""All SQL of the loader.

The CSV files are streamed into staging tables with COPY (PostgreSQL parses the CSV), then
checked and keyed set-based before anything is written; then the purchases are stored in
chunks of bounded size, each its own transaction: no per-row work in Python.
"""

# Serialises loaders for the whole import ($1: the loader's advisory lock): two at once would
# both see a purchase as new.
LOCK_LOADER = "SELECT pg_advisory_lock($1)"
UNLOCK_LOADER = "SELECT pg_advisory_unlock($1)"

# For each of the loader's sessions: sorts and hashes of a million rows (the checks', the
# fold's queue of visits) stay in memory ($1: work_mem; the server's default spills them).
SESSION_WORK_MEM = "SELECT set_config('work_mem', $1, false)"
RESET_WORK_MEM = "RESET work_mem"
# For the checking transaction: naive times are UTC.
CHECKING_SESSION = """
SELECT set_config('TimeZone', 'UTC', true), set_config('shop.chain_time_zone', $1, false)
"""

# For each storing or folding transaction: the aggregate shard that no till writes ($1), so a
# till never waits for a row of the import's counters, nor the import for a till's.
SHARD_SESSION = "SELECT set_config('shop.aggregate_shard', $1, true)"
# For each chunk: whether the customers' visits wait in import_visits for one fold at the end
# ($1: 'on') instead of updating each customer once per chunk.
DEFER_CUSTOMER_FOLD = "SELECT set_config('shop.defer_customer_fold', $1, true)"

# Each basket's lines with today's catalog prices, one row per basket: a chunk joins its
# purchases to these few thousand baskets and unnests their lines, instead of joining every
# basket's lines again for each chunk.
BASKET_PRODUCTS = """
CREATE UNLOGGED TABLE import_work.basket_product WITH (autovacuum_enabled = off) AS
SELECT b.basket_no, array_agg(c.id) AS product_ids, array_agg(l.quantity) AS quantities,
       array_agg(c.unit_price) AS unit_prices
FROM basket b JOIN basket_line l USING (items_list) JOIN products c ON c.name = l.product_name
GROUP BY b.basket_no;
ALTER TABLE import_work.basket_product ADD PRIMARY KEY (basket_no);
ANALYZE import_work.basket_product;
"""

# The visits waiting in import_visits that are not folded yet, one row per (store, customer),
# numbered in slices of $1 customers in key order: each slice a range of customers no other
# slice has one in. A table every connection of the import reads, so slices fold side by side.
FOLD_QUEUE = """
CREATE UNLOGGED TABLE import_work.fold_visit WITH (autovacuum_enabled = off) AS
SELECT supermarket_id, customer_id, sum(purchases)::int AS purchases,
       min(first_at) AS first_at, max(last_at) AS last_at,
       ((dense_rank() OVER (ORDER BY customer_id) - 1) / $1)::int AS slice
FROM import_visits v
WHERE NOT EXISTS (SELECT 1 FROM import_folded_slices f
                  WHERE v.customer_id BETWEEN f.first_customer AND f.last_customer)
GROUP BY supermarket_id, customer_id
"""
INDEX_FOLD_QUEUE = """
CREATE INDEX ON import_work.fold_visit (slice);
ANALYZE import_work.fold_visit;
"""
FOLD_SLICES = "SELECT coalesce(max(slice), -1) + 1 FROM import_work.fold_visit"

# Folds slice $1 into the customers' rows and histograms and records its range of customers as
# folded, in one statement: a slice is folded exactly once.
FOLD_SLICE = """
WITH visit AS MATERIALIZED (
    SELECT supermarket_id, customer_id, purchases, first_at, last_at
    FROM import_work.fold_visit WHERE slice = $1
),
folded AS (
    INSERT INTO import_folded_slices (first_customer, last_customer)
    VALUES ((SELECT customer_id FROM visit ORDER BY customer_id LIMIT 1),
            (SELECT customer_id FROM visit ORDER BY customer_id DESC LIMIT 1))
    RETURNING 1
)
SELECT fold_customer_visits(array_agg(supermarket_id), array_agg(customer_id),
                            array_agg(purchases), array_agg(first_at), array_agg(last_at)),
       (SELECT count(*) FROM folded)
FROM visit
"""

# Every waiting visit folded: empty the queue and the record of folded slices, together.
FOLD_DONE = """
TRUNCATE import_visits, import_folded_slices;
DROP TABLE import_work.fold_visit;
"""


# `line` is the line in the file: the header is line 1, so numbering starts at 2. The tables
# live for the loader's session, across the checking and storing transactions; the work
# tables a killed import left in import_work go first.
CREATE_STAGING = """
DROP TABLE IF EXISTS import_work.load_purchase, import_work.basket_product,
    import_work.fold_visit;
CREATE TEMP TABLE staged_supermarket (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2), id text, time_zone text
);
CREATE TEMP TABLE staged_product (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2), product_name text, unit_price text
);
CREATE TEMP TABLE staged_purchase (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2),
    supermarket_id text, "timestamp" text, user_id text, items_list text, total_amount text
);
"""
DROP_STAGING = """
DROP TABLE IF EXISTS staged_supermarket, staged_product, staged_purchase, basket_line, basket,
    import_work.load_purchase, import_work.basket_product, import_work.fold_visit
"""

# Purchases may name stores and products that the database has already, besides the files'.
# The stores a purchase may name, each with the zone it will have once loaded: the file's (its
# own, else CHAIN_TIMEZONE), or the database's for a store the file does not list.
KNOWN_STORES = """
SELECT id, coalesce(nullif(time_zone, ''), current_setting('shop.chain_time_zone')) AS time_zone
FROM staged_supermarket
UNION ALL
SELECT id, time_zone FROM supermarkets
WHERE id NOT IN (SELECT id FROM staged_supermarket WHERE id IS NOT NULL)
"""
KNOWN_PRODUCTS = "SELECT name FROM products UNION SELECT product_name FROM staged_product"

# Baskets repeat: a chain sells the same few lists of items again and again (the 1M generated
# purchases hold 45k distinct lists), so each distinct items_list is split, checked and priced
# once, and purchases find their lines by joining on it. `basket_line`: one row per (list,
# product name) with the number of times the list names it.
BASKET_LINES = """
CREATE TEMP TABLE basket_line AS
SELECT b.items_list, btrim(name) AS product_name, count(*)::int AS quantity
FROM (SELECT DISTINCT items_list FROM staged_purchase WHERE items_list IS NOT NULL) b,
     unnest(string_to_array(b.items_list, ',')) AS name
GROUP BY 1, 2
"""
# $1: the most items one purchase may hold.
BASKETS = f"""
CREATE TEMP TABLE basket AS
SELECT l.items_list, (row_number() OVER ())::int AS basket_no,
       btrim(regexp_replace(l.items_list, '\\s*,\\s*', ',', 'g')) AS items,
       btrim(l.items_list) <> ''
           AND bool_and(l.product_name <> '' AND k.name IS NOT NULL)
           AND sum(l.quantity) <= $1 AS checked
FROM basket_line l
LEFT JOIN ({KNOWN_PRODUCTS}) k
    ON k.name = l.product_name
GROUP BY l.items_list
"""
# What the keying's joins are planned by: without it a three-row store list is guessed at a
# thousand rows and a million purchases are sorted to merge with it.
ANALYZE_FOR_KEYING = (
    "ANALYZE basket_line; ANALYZE basket; ANALYZE staged_supermarket; ANALYZE staged_product"
)

MONEY = r"'^\d{1,10}(\.\d{1,2})?$'"
TIMESTAMP = r"'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}'"
# A time that says its offset (Z, +02, -05:00): else it is the store's local time. Matched
# against the last six characters, the longest offset: a regular expression costs by the
# length of the text it reads.
WITH_OFFSET = r"'(Z|[+-]\d{2}(:?\d{2})?)$'"
# The one-pass check's cheaper test of TIMESTAMP: the shape by LIKE, the digits by the cast
# that must succeed too (a value that does not cast sends the load to the detailed report).
TIMESTAMP_SHAPE = """
(s."timestamp" LIKE '____-__-__T__:__%' OR s."timestamp" LIKE '____-__-__ __:__%')"""

# Problems of the two small files, as (file, line, reason): checked before anything else.
# $1: how many to report at most; $2: the pattern of a store id.
CATALOG_PROBLEMS = rf"""
SELECT 'supermarkets.csv' AS file, line, format('bad supermarket id %L', coalesce(id, '')) AS reason
FROM staged_supermarket WHERE coalesce(id, '') !~ $2::text
UNION ALL
SELECT 'supermarkets.csv', line, format('unknown time zone %L', time_zone)
FROM staged_supermarket WHERE nullif(time_zone, '') IS NOT NULL AND NOT is_time_zone(time_zone)
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
ORDER BY file, line
LIMIT $1
"""

# Every problem of the purchases, as (file, line, reason): the detailed report, run only when
# the one-pass check of KEY_PURCHASES has found a row it refuses. $1: how many to report at
# most; $2: the most items one purchase may hold.
PURCHASE_PROBLEMS = rf"""
WITH known_store AS (
    {KNOWN_STORES}
),
known_product AS (
    {KNOWN_PRODUCTS}
)
SELECT 'purchases.csv' AS file, line,
       format('unknown supermarket %L', coalesce(supermarket_id, '')) AS reason
FROM staged_purchase s WHERE NOT EXISTS (SELECT 1 FROM known_store k WHERE k.id = s.supermarket_id)
UNION ALL
SELECT 'purchases.csv', line,
       format('timestamp %L is not an ISO 8601 date and time', coalesce("timestamp", ''))
FROM staged_purchase
WHERE NOT (coalesce("timestamp", '') ~ {TIMESTAMP}
           AND input_is_valid("timestamp", 'timestamptz'))
UNION ALL
SELECT 'purchases.csv', line, format('user_id %L is not a UUID', coalesce(user_id, ''))
FROM staged_purchase WHERE NOT input_is_valid(coalesce(user_id, ''), 'uuid')
UNION ALL
SELECT 'purchases.csv', line, 'items_list is empty: a purchase needs at least one item'
FROM staged_purchase WHERE coalesce(btrim(items_list), '') = ''
UNION ALL
SELECT 'purchases.csv', s.line, 'items_list has an empty product name'
FROM staged_purchase s
WHERE EXISTS (SELECT 1 FROM basket_line l WHERE l.items_list = s.items_list AND l.product_name = '')
UNION ALL
SELECT 'purchases.csv', line, format('more than %s items in one purchase', $2::int)
FROM staged_purchase
WHERE length(items_list) - length(replace(items_list, ',', '')) >= $2::int
UNION ALL
SELECT 'purchases.csv', line,
       'unknown product' || CASE WHEN count(*) > 1 THEN 's ' ELSE ' ' END
       || string_agg(quote_literal(product_name), ', ' ORDER BY product_name)
FROM staged_purchase s JOIN basket_line l USING (items_list)
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

# The file and CHAIN_TIMEZONE say each store's zone; a store that moves to another zone has
# its daily rollups recounted by its local days (the supermarkets_moved_zone trigger).
ADD_SUPERMARKETS = """
INSERT INTO supermarkets AS s (id, time_zone)
SELECT id, coalesce(nullif(time_zone, ''), current_setting('shop.chain_time_zone'))
FROM staged_supermarket ORDER BY id
ON CONFLICT (id) DO UPDATE SET time_zone = excluded.time_zone
    WHERE s.time_zone IS DISTINCT FROM excluded.time_zone
"""

# The CSV is the catalog's source: a changed price replaces the old one.
UPSERT_PRODUCTS = """
INSERT INTO products AS p (name, unit_price)
SELECT product_name, unit_price::numeric FROM staged_product ORDER BY product_name
ON CONFLICT (name) DO UPDATE SET unit_price = excluded.unit_price
WHERE p.unit_price IS DISTINCT FROM excluded.unit_price
"""

# The purchases typed, checked and keyed in one pass over the file. A value that does not cast
# stops the statement; a row that casts but breaks a rule is kept with `checked` false. Either
# way the loader then runs PURCHASE_PROBLEMS for the report, so a good file pays for one pass.
# The import key is the row's meaning (store, time as written read as UTC, customer, items as
# written, total), so loading the same file again finds every row stored already, even after
# its store moved to another zone and a time without an offset means another instant. Each
# row gets its chunk, in time order ($1 purchases a chunk): the unit the import commits in.
KEY_PURCHASES = rf"""
CREATE UNLOGGED TABLE import_work.load_purchase WITH (autovacuum_enabled = off) AS
SELECT line, supermarket_id, purchased_at, written_at, customer_id, total_amount, items_list,
       basket_no,
       md5(concat_ws('|', supermarket_id, written_at, customer_id, items, total_amount))::uuid
           AS import_key,
       checked,
       ((row_number() OVER (ORDER BY purchased_at, line) - 1) / $1)::int AS chunk
FROM (
    SELECT s.line, s.supermarket_id,
           CASE WHEN right(s."timestamp", 6) ~ {WITH_OFFSET} THEN s."timestamp"::timestamptz
                ELSE s."timestamp"::timestamp AT TIME ZONE coalesce(k.time_zone, 'UTC')
           END AS purchased_at,
           s."timestamp"::timestamptz AS written_at,  -- the session's zone is UTC
           s.user_id::uuid AS customer_id, s.total_amount::numeric(12, 2) AS total_amount,
           s.items_list, b.basket_no, b.items,
           coalesce({TIMESTAMP_SHAPE} AND s.user_id IS NOT NULL
                    AND s.total_amount ~ {MONEY} AND b.checked AND k.id IS NOT NULL,
                    false) AS checked
    FROM staged_purchase s
    LEFT JOIN basket b USING (items_list)
    LEFT JOIN ({KNOWN_STORES}) k
        ON k.id = s.supermarket_id
    OFFSET 0  -- each value is cast once, not again inside the key
) p
"""
INDEX_PURCHASES = """
CREATE INDEX ON import_work.load_purchase (chunk);
ANALYZE import_work.load_purchase
"""
REFUSED_ROWS = """
SELECT line FROM import_work.load_purchase WHERE NOT checked ORDER BY line LIMIT $1
"""

# Rows that repeat an earlier row of the file exactly: one purchase exported twice.
REPEATED_ROWS = """
SELECT min(line) AS first_line, array_agg(line ORDER BY line) AS lines
FROM import_work.load_purchase GROUP BY import_key HAVING count(*) > 1
"""
DROP_REPEATS = "DELETE FROM import_work.load_purchase WHERE line = ANY($1::bigint[])"

# Rows whose recorded total differs from today's catalog: kept as recorded, reported. Each
# basket is priced once.
TOTALS_OFF_CATALOG = """
WITH catalog AS (  -- the catalog as this load leaves it: the file's prices replace the stored
    SELECT product_name AS name, unit_price::numeric AS unit_price FROM staged_product
    UNION ALL
    SELECT name, unit_price FROM products
    WHERE name NOT IN (SELECT product_name FROM staged_product)
),
basket_total AS (
    SELECT l.items_list, sum(c.unit_price * l.quantity) AS catalog_total
    FROM basket_line l JOIN catalog c ON c.name = l.product_name
    GROUP BY l.items_list
)
SELECT p.line, p.total_amount, b.catalog_total
FROM import_work.load_purchase p JOIN basket_total b USING (items_list)
WHERE b.catalog_total <> p.total_amount
ORDER BY p.line
LIMIT $1
"""

PURCHASE_SPAN = """
SELECT min(purchased_at)::date AS first, max(purchased_at)::date AS last,
       coalesce(max(chunk), -1) + 1 AS chunks
FROM import_work.load_purchase
"""

# Rows an earlier load stored already (or this one's, interrupted), looked up once for the
# whole file before the first chunk, and dropped. A row stored before its store changed zone
# has the same key at another instant, within 15 hours of the time as written (zones are
# UTC-12 to UTC+14): looked up there. $1 and $2 bound the months to look in.
WRITTEN_SPAN = """
SELECT min(written_at) - interval '15 hours' AS first, max(written_at) + interval '15 hours' AS last
FROM import_work.load_purchase
"""
DROP_ALREADY_STORED = """
DELETE FROM import_work.load_purchase l
WHERE EXISTS (
    SELECT 1 FROM purchases p
    WHERE p.import_key = l.import_key
      AND p.purchased_at BETWEEN $1 AND $2
      AND p.purchased_at BETWEEN l.written_at - interval '15 hours'
                             AND l.written_at + interval '15 hours')
"""

# The file's customers without a number get theirs in one sorted statement before the chunks:
# the chunks' own numbering then finds every one, and connections storing chunks at once never
# wait for each other's new customers.
NUMBER_CUSTOMERS = """
INSERT INTO customer_numbers (customer_id)
SELECT DISTINCT l.customer_id FROM import_work.load_purchase l
WHERE NOT EXISTS (SELECT 1 FROM customer_numbers c WHERE c.customer_id = l.customer_id)
ORDER BY 1
ON CONFLICT DO NOTHING
"""

# Stores the purchases of chunk $1, with their lines priced from the catalog; the triggers
# fold the aggregates and rollups. Returns how many it stored. Rows stored before are gone from
# load_purchase and the loader's lock keeps every other load out, so a plain insert: a row
# stored twice would break the unique import key and stop the import, never be skipped.
STORE_NEW_PURCHASES = """
WITH chunk AS MATERIALIZED (
    SELECT l.purchased_at, l.supermarket_id, l.customer_id, l.total_amount, l.import_key,
           l.basket_no
    FROM import_work.load_purchase l
    WHERE l.chunk = $1
),
purchase AS (
    INSERT INTO purchases (purchased_at, supermarket_id, customer_id, total_amount, import_key)
    SELECT purchased_at, supermarket_id, customer_id, total_amount, import_key
    FROM chunk
    ORDER BY purchased_at
    RETURNING id, purchased_at, supermarket_id, import_key
),
item AS (
    INSERT INTO purchase_items
        (purchase_id, purchased_at, supermarket_id, product_id, quantity, unit_price)
    SELECT p.id, p.purchased_at, p.supermarket_id, l.product_id, l.quantity, l.unit_price
    FROM purchase p
    JOIN chunk k USING (import_key)
    JOIN import_work.basket_product b USING (basket_no)
    CROSS JOIN LATERAL unnest(b.product_ids, b.quantities, b.unit_prices)
        AS l(product_id, quantity, unit_price)
    ORDER BY p.purchased_at, p.id  -- each month's lines together, in the order of their keys
    RETURNING 1
)
SELECT (SELECT count(*) FROM purchase) AS purchases, (SELECT count(*) FROM item) AS lines
"""
