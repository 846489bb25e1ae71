-- The import's work tables (its checked and keyed purchases, its priced baskets, its waiting
-- visits in slices) move out of the loader's session into a schema of their own, so that
-- several connections of one import can store its chunks, and fold its slices of customers, at
-- once: a temporary table is one session's. The loader (the owner)
-- creates them unlogged for each import and drops them at its end; no service role may use
-- the schema.
CREATE SCHEMA import_work;
REVOKE ALL ON SCHEMA import_work FROM PUBLIC;

-- A folded slice of customers is recorded by its first and last customer, in the transaction
-- that folds it, instead of one watermark that only an in-order fold can move: slices folded
-- side by side finish in any order. An interrupted fold's watermark becomes the range of
-- customers up to it.
CREATE TABLE import_folded_slices (
    first_customer uuid NOT NULL,
    last_customer uuid NOT NULL
);
INSERT INTO import_folded_slices (first_customer, last_customer)
SELECT '00000000-0000-0000-0000-000000000000', folded_through FROM import_fold_progress
WHERE folded_through IS NOT NULL;
DROP TABLE import_fold_progress;
