-- The import's work tables (its checked and keyed purchases, its priced baskets) move out of
-- the loader's session into a schema of their own, so that several connections of one import
-- can store its chunks at once: a temporary table is one session's. The loader (the owner)
-- creates them unlogged for each import and drops them at its end; no service role may use
-- the schema.
CREATE SCHEMA import_work;
REVOKE ALL ON SCHEMA import_work FROM PUBLIC;
