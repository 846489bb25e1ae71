-- The reference for what one sale costs the database: the plainest insert of the same sale,
-- made once before pgbench runs bench/.work/plain_sale.pgbench (made by bench/purchases.py from
-- the same variables as the sale statement's script). Tables with the same columns and keys as
-- the real ones, and no triggers, no rollups, no ledger: a customer upserted with a count, the
-- purchase, its lines priced from the catalog, and one daily counter.
DROP TABLE IF EXISTS plain_customers, plain_purchases, plain_purchase_items, plain_daily_sales;
CREATE TABLE plain_customers (LIKE customers INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE plain_purchases (LIKE purchases INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE plain_purchase_items (LIKE purchase_items INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE plain_daily_sales (LIKE daily_sales INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
