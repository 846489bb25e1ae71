-- Least privilege: each service logs in as its own role, never as the owner of the tables.
--   supermarket_cash_register  reads the catalog and the keys, inserts sales (and their keys),
--                              expires live idempotency keys; nothing else
--   supermarket_analytics      reads; every transaction read-only, its own statement timeout
-- Aggregates are written by trigger functions that run with their owner's rights (SECURITY
-- DEFINER, a fixed search_path: public, where only the owner may create, then pg_catalog,
-- then pg_temp); no function is executable by PUBLIC. Sales are append-only for
-- everyone: UPDATE and DELETE on purchases and their lines are refused by a trigger unless a
-- maintenance session says `SET shop.maintenance = on`; stores cannot be renamed, products
-- keep their names. Roles are cluster-wide: created here when missing, without a password (the
-- loader sets one from CASH_REGISTER_DB_PASSWORD / ANALYTICS_DB_PASSWORD when given).

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'supermarket_cash_register') THEN
        CREATE ROLE supermarket_cash_register LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'supermarket_analytics') THEN
        CREATE ROLE supermarket_analytics LOGIN;
    END IF;
END
$$;
ALTER ROLE supermarket_analytics SET default_transaction_read_only = on;
ALTER ROLE supermarket_analytics SET statement_timeout = '5s';

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO supermarket_cash_register, supermarket_analytics;

-- The cash register.
GRANT SELECT ON products, supermarkets, tills, owners TO supermarket_cash_register;
GRANT SELECT, INSERT ON purchases, purchase_items, offline_sales TO supermarket_cash_register;
GRANT SELECT, INSERT, DELETE ON idempotency_keys TO supermarket_cash_register;
GRANT USAGE ON SEQUENCE purchases_id_seq TO supermarket_cash_register;

-- The analytics.
GRANT SELECT ON products, supermarkets, tills, owners, customers, customer_purchase_counts,
    store_customers, store_customer_purchase_counts, product_sales, daily_sales,
    daily_customers, daily_product_sales TO supermarket_analytics;

-- When keys were last used: the one write both may make, through this function only.
CREATE FUNCTION record_key_use(till_ids text[], owner_names text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    UPDATE tills SET last_used_at = now() WHERE till_id = ANY (till_ids);
    UPDATE owners SET last_used_at = now() WHERE name = ANY (owner_names);
$$;

-- Functions that write what the services may not write themselves run as their owner.
ALTER FUNCTION count_purchases() SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION count_units_sold() SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION fold_customer_visits(text[], uuid[], integer[], timestamptz[], timestamptz[])
    SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION create_purchase_months(date, date, bigint)
    SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION move_month_out_of_default(text, timestamptz, timestamptz)
    SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION notify_catalog_changed() SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION notify_access_changed() SET search_path = public, pg_catalog, pg_temp;
ALTER FUNCTION aggregate_shard() SET search_path = public, pg_catalog, pg_temp;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
GRANT EXECUTE ON FUNCTION create_purchase_months(date, date, bigint),
    record_key_use(text[], text[]) TO supermarket_cash_register;
GRANT EXECUTE ON FUNCTION record_key_use(text[], text[]) TO supermarket_analytics;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- Sales are append-only. Rows waiting in a default partition may leave it for their month
-- (create_purchase_months moves them): that is the partition keeper's work, not a rewrite.
CREATE FUNCTION refuse_rewriting_sales() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('shop.maintenance', true) = 'on'
       OR (TG_OP = 'DELETE' AND TG_TABLE_NAME IN ('purchases_default', 'purchase_items_default'))
    THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'sales are append-only: % on % is refused (a refund is a new sale)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;
CREATE FUNCTION refuse_truncating_sales() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('shop.maintenance', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'sales are append-only: TRUNCATE on % is refused', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER purchases_append_only BEFORE UPDATE OR DELETE ON purchases
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_sales();
CREATE TRIGGER purchase_items_append_only BEFORE UPDATE OR DELETE ON purchase_items
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_sales();
CREATE TRIGGER purchases_not_truncated BEFORE TRUNCATE ON purchases
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncating_sales();
CREATE TRIGGER purchase_items_not_truncated BEFORE TRUNCATE ON purchase_items
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncating_sales();

-- A store keeps its id and a product its name: the sales refer to them.
CREATE FUNCTION refuse_renaming() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% keep their names: sales refer to them', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER supermarkets_keep_their_ids BEFORE UPDATE OF id ON supermarkets
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_renaming();
CREATE TRIGGER products_keep_their_names BEFORE UPDATE OF name ON products
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION refuse_renaming();
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
