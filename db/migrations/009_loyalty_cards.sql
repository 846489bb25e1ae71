-- Loyalty cards: the card a cashier scans finds the returning customer. A card number is
-- personal data, so only its keyed hash is kept (HMAC-SHA256 with LOYALTY_CARD_KEY, computed
-- by the cash register): a copy of the database alone does not say whose card is whose. The
-- analytics never read this table; they count the customer the card leads to.
CREATE TABLE loyalty_cards (
    card_hash bytea PRIMARY KEY CHECK (octet_length(card_hash) = 32),
    customer_id uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The first sales with a new card may race: the cash register inserts the card with
-- ON CONFLICT (card_hash) DO UPDATE SET card_hash = EXCLUDED.card_hash, the one form whose
-- RETURNING gives the winner's customer. That no-op update needs UPDATE on the column; a real
-- change (a card moved to another customer) is refused for everyone.
CREATE FUNCTION refuse_reassigning_cards() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'a loyalty card keeps its customer' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER loyalty_cards_keep_their_customer BEFORE UPDATE ON loyalty_cards
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION refuse_reassigning_cards();
REVOKE EXECUTE ON FUNCTION refuse_reassigning_cards() FROM PUBLIC;

GRANT SELECT, INSERT, UPDATE (card_hash) ON loyalty_cards TO supermarket_cash_register;
