-- Narrower roles. The cash register made partitions through create_purchase_months with any
-- range (15 relations for the year 2999 were made in a review); it now has only
-- create_coming_months, which makes last month through three months ahead, as its chore
-- needs. Neither service may create temporary tables in this database, and only the owner
-- and the two services may connect to it.
CREATE FUNCTION create_coming_months(lock_key bigint) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT create_purchase_months((now() - interval '1 month')::date,
                                  (now() + interval '3 months')::date, lock_key);
$$;
REVOKE EXECUTE ON FUNCTION create_coming_months(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION create_coming_months(bigint) TO supermarket_cash_register;
REVOKE EXECUTE ON FUNCTION create_purchase_months(date, date, bigint)
    FROM supermarket_cash_register;

DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY, CONNECT ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format(
        'GRANT CONNECT ON DATABASE %I TO supermarket_cash_register, supermarket_analytics',
        current_database()
    );
END
$$;
