-- The services no longer read the key tables or the sales they store.
--
-- A service learns whom a key belongs to only by asking with the key's hash, which only a
-- caller holding the key can give: `live_credentials` answers for the hashes asked, never
-- lists the others. The services keep what they learned in memory and ask again for those
-- hashes when access_changed is notified (a revocation reaches them within a moment).
-- `record_key_use` likewise takes the hashes of the keys used, so a service marks as used only
-- keys that were shown to it.
--
-- The cash register reads a stored sale only to replay its receipt to the till that claimed
-- its key: through `sales_claimed_by`, not through SELECT on purchases and purchase_items.
CREATE FUNCTION live_credentials(wanted bytea[])
RETURNS TABLE (key_hash bytea, kind text, name text, supermarket_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT t.key_hash, 'till', t.till_id, t.supermarket_id FROM tills t
    WHERE t.key_hash = ANY (wanted) AND t.revoked_at IS NULL
    UNION ALL
    SELECT o.key_hash, 'owner', o.name, o.supermarket_id FROM owners o
    WHERE o.key_hash = ANY (wanted) AND o.revoked_at IS NULL;
$$;

DROP FUNCTION record_key_use(text[], text[]);
CREATE FUNCTION record_key_use(used bytea[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    UPDATE tills SET last_used_at = now() WHERE key_hash = ANY (used);
    UPDATE owners SET last_used_at = now() WHERE key_hash = ANY (used);
$$;

-- One row per earlier claim found: $1 the tills, $2 their Idempotency-Keys or $3 their
-- client_purchase_ids, `position` the element of those arrays it answers.
CREATE FUNCTION sales_claimed_by(till_ids text[], keys text[], client_ids text[])
RETURNS TABLE (
    "position" int, request_hash bytea, purchase_id bigint, purchased_at timestamptz,
    customer_id uuid, total_amount numeric, product_ids int[], unit_prices numeric[]
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT k.position::int, s.request_hash, p.id, p.purchased_at, p.customer_id, p.total_amount,
           array_agg(i.product_id ORDER BY i.product_id),
           array_agg(i.unit_price ORDER BY i.product_id)
    FROM unnest(till_ids, keys, client_ids) WITH ORDINALITY AS k(till_id, key, client_id, position)
    JOIN LATERAL (
        SELECT c.request_hash, c.purchase_id, c.purchased_at FROM idempotency_keys c
        WHERE c.till_id = k.till_id AND c.key = k.key
        UNION ALL
        SELECT o.request_hash, o.purchase_id, o.purchased_at FROM offline_sales o
        WHERE o.till_id = k.till_id AND o.client_purchase_id = k.client_id
    ) s ON true
    JOIN purchases p ON p.id = s.purchase_id AND p.purchased_at = s.purchased_at
    JOIN purchase_items i ON i.purchase_id = p.id AND i.purchased_at = p.purchased_at
    GROUP BY k.position, s.request_hash, p.id, p.purchased_at, p.customer_id, p.total_amount;
$$;

REVOKE SELECT ON tills, owners FROM supermarket_cash_register, supermarket_analytics;
REVOKE SELECT ON purchases, purchase_items FROM supermarket_cash_register;
REVOKE EXECUTE ON FUNCTION live_credentials(bytea[]), record_key_use(bytea[]),
    sales_claimed_by(text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION live_credentials(bytea[]), record_key_use(bytea[])
    TO supermarket_cash_register, supermarket_analytics;
GRANT EXECUTE ON FUNCTION sales_claimed_by(text[], text[], text[]) TO supermarket_cash_register;
