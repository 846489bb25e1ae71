-- What the loader's work costs at the least on this server: the same rows the loader writes
-- (purchases, lines, customers, per-store customers, daily customers, daily rollups), each built
-- the cheapest way PostgreSQL allows: fresh tables filled by CREATE TABLE AS, indexes built
-- afterwards by sorting, no triggers, no merging with existing rows, no checks beyond the casts.
-- A real load can only be slower; this is the floor against which to judge its rate.
--
--   psql "$SCRATCH_DATABASE_URL" -f bench/loader_floor.sql \
--        < bench/.work/generated-1000000/purchases.csv
--
-- Run it on a scratch database: it creates and drops tables named floor_*.
\set ON_ERROR_STOP on
\timing on
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET TimeZone = 'UTC';
DROP TABLE IF EXISTS floor_raw, floor_purchase, floor_basket_line, floor_line, floor_customer,
    floor_store_customer, floor_daily_customer, floor_daily_sales, floor_daily_product_sales;
SELECT clock_timestamp() AS started \gset

\echo read the file (COPY)
CREATE UNLOGGED TABLE floor_raw (
    line bigint GENERATED ALWAYS AS IDENTITY (START 2),
    supermarket_id text, "timestamp" text, user_id text, items_list text, total_amount text
);
\copy floor_raw (supermarket_id, "timestamp", user_id, items_list, total_amount) from pstdin csv header

\echo type and key every purchase
CREATE TABLE floor_purchase AS
SELECT line AS id, purchased_at, supermarket_id, customer_id, total_amount, items_list,
       md5(concat_ws('|', supermarket_id, purchased_at, customer_id, items_list, total_amount))::uuid
           AS import_key
FROM (
    SELECT line, "timestamp"::timestamptz AS purchased_at, supermarket_id,
           user_id::uuid AS customer_id, total_amount::numeric(12, 2) AS total_amount, items_list
    FROM floor_raw OFFSET 0
) p;

\echo index the purchases
ALTER TABLE floor_purchase ADD PRIMARY KEY (id, purchased_at);
CREATE UNIQUE INDEX ON floor_purchase (purchased_at, import_key);

\echo split each distinct basket once
CREATE TABLE floor_basket_line AS
SELECT b.items_list, btrim(name) AS product_name, count(*)::int AS quantity
FROM (SELECT DISTINCT items_list FROM floor_purchase) b,
     unnest(string_to_array(b.items_list, ',')) AS name
GROUP BY 1, 2;

\echo write and index the lines
CREATE TABLE floor_line AS
SELECT p.id AS purchase_id, p.purchased_at, p.supermarket_id,
       hashtext(l.product_name) AS product_id, l.quantity, 1.00::numeric(10, 2) AS unit_price
FROM floor_purchase p JOIN floor_basket_line l USING (items_list);
ALTER TABLE floor_line ADD PRIMARY KEY (purchase_id, purchased_at, product_id);

\echo customers and their purchase counts
CREATE TABLE floor_customer AS
SELECT customer_id AS id, count(*)::int AS purchase_count,
       min(purchased_at) AS first_purchase_at, max(purchased_at) AS last_purchase_at
FROM floor_purchase GROUP BY customer_id;
ALTER TABLE floor_customer ADD PRIMARY KEY (id);
CREATE INDEX ON floor_customer (purchase_count DESC, id);

\echo customers per store
CREATE TABLE floor_store_customer AS
SELECT supermarket_id, customer_id, count(*)::int AS purchase_count
FROM floor_purchase GROUP BY 1, 2;
ALTER TABLE floor_store_customer ADD PRIMARY KEY (supermarket_id, customer_id);
CREATE INDEX ON floor_store_customer (supermarket_id, purchase_count DESC, customer_id);

\echo customers per day and store
CREATE TABLE floor_daily_customer AS
SELECT DISTINCT (purchased_at AT TIME ZONE 'UTC')::date AS day, supermarket_id, customer_id
FROM floor_purchase;
ALTER TABLE floor_daily_customer ADD PRIMARY KEY (day, supermarket_id, customer_id);

\echo daily rollups per store and per product
CREATE TABLE floor_daily_sales AS
SELECT (purchased_at AT TIME ZONE 'UTC')::date AS day, supermarket_id, count(*) AS purchases,
       sum(total_amount) AS revenue
FROM floor_purchase GROUP BY 1, 2;
CREATE TABLE floor_daily_product_sales AS
SELECT (purchased_at AT TIME ZONE 'UTC')::date AS day, supermarket_id, product_id,
       sum(quantity) AS units, sum(quantity * unit_price) AS revenue
FROM floor_line GROUP BY 1, 2, 3;

\timing off
SELECT count(*) AS purchases,
       round(extract(epoch FROM clock_timestamp() - :'started'::timestamptz), 1) AS seconds,
       round(count(*) / extract(epoch FROM clock_timestamp() - :'started'::timestamptz))
           AS purchases_per_second
FROM floor_purchase;
DROP TABLE floor_raw, floor_purchase, floor_basket_line, floor_line, floor_customer,
    floor_store_customer, floor_daily_customer, floor_daily_sales, floor_daily_product_sales;
