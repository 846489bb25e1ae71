-- Helpers for the loader, which checks every CSV value in SQL before it writes anything.

-- Would `value` be accepted as `type_name`? pg_input_is_valid on PostgreSQL 16 and later; on
-- older servers the same answer from a cast in an exception block (slower, still set-based).
DO $do$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        CREATE FUNCTION input_is_valid(value text, type_name text) RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE
        AS 'SELECT pg_input_is_valid(value, type_name)';
    ELSE
        CREATE FUNCTION input_is_valid(value text, type_name text) RETURNS boolean
        LANGUAGE plpgsql STABLE
        AS $fn$
        BEGIN
            EXECUTE format('SELECT %L::%s', value, type_name);
            RETURN true;
        EXCEPTION WHEN others THEN
            RETURN false;
        END
        $fn$;
    END IF;
END
$do$;
