-- Idempotency keys of POST /purchase (the IETF draft "The Idempotency-Key HTTP Header Field"):
-- the first request with a key claims it in the same statement as its purchase; a repeat with
-- the same request gets that purchase back, one with another request is refused. Keys are
-- deleted after a configurable time by the cash register.
CREATE TABLE idempotency_keys (
    key text PRIMARY KEY,
    request_hash bytea NOT NULL,
    purchase_id bigint NOT NULL,
    purchased_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
