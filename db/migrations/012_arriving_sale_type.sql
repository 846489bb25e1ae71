-- The purchase statement's one parameter: an array of typed rows, one per sale, each with its
-- lines, instead of twelve parallel arrays matched by position. The statement reads the
-- fields by name; the cash register builds each row as a named tuple whose field order is
-- this type's attribute order (a test compares the two).
CREATE TYPE arriving_line AS (
    product_id integer,
    quantity integer
);

CREATE TYPE arriving_sale AS (
    supermarket_id text,
    customer_id uuid,
    purchased_at timestamptz,      -- NULL: now (a live sale)
    till_id text,
    request_id text,
    card_hash bytea,               -- keyed hash of a loyalty card; NULL: none
    idempotency_key text,          -- a live sale's Idempotency-Key; NULL: none
    client_purchase_id text,       -- an offline sale's own id; NULL: none
    request_hash bytea,
    lines arriving_line[]
);

-- Only the cash register sends sales.
REVOKE USAGE ON TYPE arriving_line, arriving_sale FROM PUBLIC;
GRANT USAGE ON TYPE arriving_line, arriving_sale TO supermarket_cash_register;
