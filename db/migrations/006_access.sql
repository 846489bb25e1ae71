-- Access control: every till has its own key, bound to one store; every owner has a key that
-- sees the chain, or one store (a store manager). Keys are stored only as SHA-256 hashes (they
-- are 256-bit random tokens, so a fast hash is enough); `python -m admin` issues and revokes
-- them. Services hold the keys in memory and read them again on NOTIFY access_changed.

CREATE TABLE tills (
    till_id text PRIMARY KEY CHECK (till_id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    supermarket_id text NOT NULL REFERENCES supermarkets (id),
    key_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE owners (
    name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    supermarket_id text REFERENCES supermarkets (id),  -- NULL: the whole chain
    key_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE FUNCTION notify_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('access_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- Not on last_used_at: the services write it every few seconds and need not re-read for it.
CREATE TRIGGER tills_changed AFTER INSERT OR DELETE OR TRUNCATE ON tills
    FOR EACH STATEMENT EXECUTE FUNCTION notify_access_changed();
CREATE TRIGGER tills_keys_changed AFTER UPDATE OF key_hash, supermarket_id, revoked_at ON tills
    FOR EACH STATEMENT EXECUTE FUNCTION notify_access_changed();
CREATE TRIGGER owners_changed AFTER INSERT OR DELETE OR TRUNCATE ON owners
    FOR EACH STATEMENT EXECUTE FUNCTION notify_access_changed();
CREATE TRIGGER owners_keys_changed AFTER UPDATE OF key_hash, supermarket_id, revoked_at ON owners
    FOR EACH STATEMENT EXECUTE FUNCTION notify_access_changed();

-- A sale's keys are its till's own: two tills may number their receipts alike. Keys claimed
-- before tills had identities are kept under a till named after their store.
ALTER TABLE idempotency_keys ADD COLUMN till_id text;
UPDATE idempotency_keys k SET till_id = 'before-access-control:' || p.supermarket_id
FROM purchases p WHERE p.id = k.purchase_id AND p.purchased_at = k.purchased_at;
UPDATE idempotency_keys SET till_id = 'before-access-control' WHERE till_id IS NULL;
ALTER TABLE idempotency_keys ALTER COLUMN till_id SET NOT NULL;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (till_id, key);

ALTER TABLE offline_sales ADD COLUMN till_id text;
UPDATE offline_sales SET till_id = 'before-access-control:' || supermarket_id;
ALTER TABLE offline_sales ALTER COLUMN till_id SET NOT NULL;
ALTER TABLE offline_sales DROP CONSTRAINT offline_sales_pkey;
ALTER TABLE offline_sales ADD PRIMARY KEY (till_id, client_purchase_id);

-- Which till recorded a sale and when the server received it (next to the sale's own time,
-- which an offline till reports). NULL for imported history. Nullable without a default, so
-- adding them rewrites nothing.
ALTER TABLE purchases ADD COLUMN till_id text, ADD COLUMN received_at timestamptz;
