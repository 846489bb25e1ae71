-- Refunds: a sale taken back, in whole or in part, at any till of the chain. A refund is a new
-- record that refers to the sale and its lines, never a change to the sale; refunds are
-- append-only like sales. Each line is refunded at the unit price the sale was charged.
CREATE SEQUENCE refunds_id_seq AS bigint;
CREATE TABLE refunds (
    id bigint PRIMARY KEY DEFAULT nextval('refunds_id_seq'),
    purchase_id bigint NOT NULL,
    purchased_at timestamptz NOT NULL,  -- the sale's, which finds it in its month
    supermarket_id text NOT NULL REFERENCES supermarkets,  -- the refunding till's store
    till_id text NOT NULL,
    refunded_at timestamptz NOT NULL DEFAULT now(),
    reason text NOT NULL CHECK (reason IN ('returned', 'damaged', 'mistake')),
    total_amount numeric(12, 2) NOT NULL CHECK (total_amount > 0),
    approved_by text,  -- the owner whose Approval-Key allowed a large refund
    request_id text,
    idempotency_key text,
    request_hash bytea,
    UNIQUE (till_id, idempotency_key)
);
ALTER SEQUENCE refunds_id_seq OWNED BY refunds.id;
CREATE INDEX refunds_of_sale ON refunds (purchase_id);

CREATE TABLE refund_lines (
    refund_id bigint NOT NULL REFERENCES refunds,
    product_id integer NOT NULL REFERENCES products,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(10, 2) NOT NULL CHECK (unit_price > 0),
    PRIMARY KEY (refund_id, product_id)
);

-- How much of each sold line has been taken back: the cap the database itself holds, however
-- many cash registers race. A refund adds to its lines' rows; a row past what was sold fails
-- the CHECK, and the refund with it. The row lock makes racing refunds of a line wait in turn.
CREATE TABLE refunded_lines (
    purchase_id bigint NOT NULL,
    product_id integer NOT NULL,
    sold integer NOT NULL,
    refunded integer NOT NULL CHECK (refunded BETWEEN 1 AND sold),
    PRIMARY KEY (purchase_id, product_id)
);

CREATE TRIGGER refunds_append_only BEFORE UPDATE OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_sales();
CREATE TRIGGER refund_lines_append_only BEFORE UPDATE OR DELETE ON refund_lines
    FOR EACH ROW EXECUTE FUNCTION refuse_rewriting_sales();
CREATE TRIGGER refunds_not_truncated BEFORE TRUNCATE ON refunds
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncating_sales();
CREATE TRIGGER refund_lines_not_truncated BEFORE TRUNCATE ON refund_lines
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncating_sales();

-- The owners' figures of refunds, per refunding store and its local day, and per product,
-- kept in the refund's own statement as the sales' are. Sharded as the sales' rollups are
-- (aggregate_shard): a store's day is one row per shard, so refunds committing at once do not
-- queue on one row's lock; the analytics sum the shards.
CREATE TABLE daily_refunds (
    day date NOT NULL,
    supermarket_id text NOT NULL,
    shard smallint NOT NULL,
    refunds bigint NOT NULL,
    refunded numeric(16, 2) NOT NULL,
    PRIMARY KEY (day, supermarket_id, shard)
);
CREATE TABLE daily_product_returns (
    day date NOT NULL,
    supermarket_id text NOT NULL,
    product_id integer NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    refunded numeric(16, 2) NOT NULL,
    PRIMARY KEY (day, supermarket_id, product_id, shard)
);
-- Units returned per product and refunding store over all time, as product_sales holds the
-- units sold: the all-time best sellers net of returns cost the same however long the history.
CREATE TABLE product_returns (
    product_id integer NOT NULL,
    supermarket_id text NOT NULL,
    shard smallint NOT NULL,
    units bigint NOT NULL,
    PRIMARY KEY (product_id, supermarket_id, shard)
);

CREATE FUNCTION count_refunds() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO daily_refunds AS d (day, supermarket_id, shard, refunds, refunded)
    SELECT (n.refunded_at AT TIME ZONE s.time_zone)::date, n.supermarket_id, aggregate_shard(),
           count(*), sum(n.total_amount)
    FROM new_refunds n JOIN supermarkets s ON s.id = n.supermarket_id
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (day, supermarket_id, shard) DO UPDATE
        SET refunds = d.refunds + excluded.refunds, refunded = d.refunded + excluded.refunded;
    RETURN NULL;
END
$$;
CREATE TRIGGER refunds_counted AFTER INSERT ON refunds REFERENCING NEW TABLE AS new_refunds
    FOR EACH STATEMENT EXECUTE FUNCTION count_refunds();

CREATE FUNCTION count_units_returned() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO product_returns AS p (product_id, supermarket_id, shard, units)
    SELECT n.product_id, r.supermarket_id, aggregate_shard(), sum(n.quantity)
    FROM new_lines n JOIN refunds r ON r.id = n.refund_id
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (product_id, supermarket_id, shard) DO UPDATE SET units = p.units + excluded.units;
    INSERT INTO daily_product_returns AS d
        (day, supermarket_id, product_id, shard, units, refunded)
    SELECT (r.refunded_at AT TIME ZONE s.time_zone)::date, r.supermarket_id, n.product_id,
           aggregate_shard(), sum(n.quantity), sum(n.quantity * n.unit_price)
    FROM new_lines n
    JOIN refunds r ON r.id = n.refund_id
    JOIN supermarkets s ON s.id = r.supermarket_id
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (day, supermarket_id, product_id, shard) DO UPDATE
        SET units = d.units + excluded.units, refunded = d.refunded + excluded.refunded;
    RETURN NULL;
END
$$;
CREATE TRIGGER refund_lines_counted AFTER INSERT ON refund_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION count_units_returned();

-- A store moved to another time zone: its refunds' days are its new local days (as its sales'
-- are, rebuilt by rebuild_store_days).
CREATE FUNCTION rebuild_refund_days_of_moved_store() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_catalog, pg_temp AS $$
BEGIN
    LOCK TABLE refunds, refund_lines IN SHARE MODE;
    DELETE FROM daily_refunds WHERE supermarket_id = NEW.id;
    DELETE FROM daily_product_returns WHERE supermarket_id = NEW.id;
    INSERT INTO daily_refunds (day, supermarket_id, shard, refunds, refunded)
    SELECT (refunded_at AT TIME ZONE NEW.time_zone)::date, NEW.id, 0, count(*), sum(total_amount)
    FROM refunds WHERE supermarket_id = NEW.id GROUP BY 1;
    INSERT INTO daily_product_returns (day, supermarket_id, product_id, shard, units, refunded)
    SELECT (r.refunded_at AT TIME ZONE NEW.time_zone)::date, NEW.id, l.product_id, 0,
           sum(l.quantity), sum(l.quantity * l.unit_price)
    FROM refunds r JOIN refund_lines l ON l.refund_id = r.id
    WHERE r.supermarket_id = NEW.id GROUP BY 1, 3;
    RETURN NULL;
END
$$;
CREATE TRIGGER supermarkets_moved_zone_refunds AFTER UPDATE OF time_zone ON supermarkets
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION rebuild_refund_days_of_moved_store();

-- A sale as a till sees it to take it back: its lines at the prices charged, what of each was
-- refunded already. Empty: no such sale. Any till of the chain may look up any receipt
-- (customers return goods to another store of the chain).
CREATE FUNCTION sale_to_refund(sale bigint)
RETURNS TABLE (
    purchase_id bigint, purchased_at timestamptz, supermarket_id text, customer_id uuid,
    total_amount numeric, product_id integer, quantity integer, unit_price numeric,
    refunded integer
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT p.id, p.purchased_at, p.supermarket_id, p.customer_id, p.total_amount,
           i.product_id, i.quantity, i.unit_price, coalesce(r.refunded, 0)
    FROM purchases p
    JOIN purchase_items i ON i.purchase_id = p.id AND i.purchased_at = p.purchased_at
    LEFT JOIN refunded_lines r ON r.purchase_id = p.id AND r.product_id = i.product_id
    WHERE p.id = sale
    ORDER BY i.product_id;
$$;

-- Records a refund, all or nothing, and answers it as JSON. `product_ids` NULL: everything
-- still refundable. With a key, a refund already recorded under it by this till is answered
-- instead (`replayed`, with its request hash, which the caller compares). Refusals are raised
-- with SQLSTATEs of their own, which the cash register turns into its problem types:
--   RF001 no such sale            RF002 the sale is older than `oldest`
--   RF003 a product not in sale   RF004 more than is still refundable (nothing left, for all)
--   RF005 the total is above `approval_above` and no `approver` allowed it (DETAIL: the total)
CREATE FUNCTION record_refund(
    till text, store text, sale bigint, product_ids integer[], quantities integer[],
    why text, approver text, request text, key text, hash bytea, oldest timestamptz,
    approval_above numeric
) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE
    earlier refunds%ROWTYPE;
    sold_at timestamptz;
    new_id bigint;
    -- The refund's lines, in product order: product, quantity, unit price, quantity sold.
    products integer[];
    taken integer[];
    prices numeric[];
    sold integer[];
    missing integer;
    over record;
    total numeric;
BEGIN
    IF key IS NOT NULL THEN
        SELECT * INTO earlier FROM refunds WHERE till_id = till AND idempotency_key = key;
        IF FOUND THEN
            RETURN refund_answer(earlier.id) || jsonb_build_object(
                'replayed', true, 'request_hash', encode(earlier.request_hash, 'hex'));
        END IF;
    END IF;
    SELECT p.purchased_at INTO sold_at FROM purchases p WHERE p.id = sale;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no sale %', sale USING ERRCODE = 'RF001';
    END IF;
    IF sold_at < oldest THEN
        RAISE EXCEPTION 'sale % is too old', sale USING ERRCODE = 'RF002', DETAIL = sold_at::text;
    END IF;
    IF product_ids IS NULL THEN
        SELECT array_agg(i.product_id ORDER BY i.product_id),
               array_agg(i.quantity - coalesce(r.refunded, 0) ORDER BY i.product_id),
               array_agg(i.unit_price ORDER BY i.product_id),
               array_agg(i.quantity ORDER BY i.product_id)
        INTO products, taken, prices, sold
        FROM purchase_items i
        LEFT JOIN refunded_lines r ON r.purchase_id = sale AND r.product_id = i.product_id
        WHERE i.purchase_id = sale AND i.purchased_at = sold_at
          AND i.quantity > coalesce(r.refunded, 0);
        IF products IS NULL THEN
            RAISE EXCEPTION 'nothing of sale % is left to refund', sale USING ERRCODE = 'RF004';
        END IF;
    ELSE
        SELECT w.product_id INTO missing
        FROM unnest(product_ids) AS w(product_id)
        WHERE NOT EXISTS (SELECT 1 FROM purchase_items i
                          WHERE i.purchase_id = sale AND i.purchased_at = sold_at
                            AND i.product_id = w.product_id)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'product % is not in sale %', missing, sale USING ERRCODE = 'RF003',
                DETAIL = missing::text;
        END IF;
        SELECT array_agg(w.product_id ORDER BY w.product_id),
               array_agg(w.quantity ORDER BY w.product_id),
               array_agg(i.unit_price ORDER BY w.product_id),
               array_agg(i.quantity ORDER BY w.product_id)
        INTO products, taken, prices, sold
        FROM unnest(product_ids, quantities) AS w(product_id, quantity)
        JOIN purchase_items i
            ON i.purchase_id = sale AND i.purchased_at = sold_at AND i.product_id = w.product_id;
    END IF;
    total := (SELECT sum(w.taken * w.price) FROM unnest(taken, prices) AS w(taken, price));
    IF total > approval_above AND approver IS NULL THEN
        RAISE EXCEPTION 'a refund of % needs approval', total USING ERRCODE = 'RF005',
            DETAIL = total::text;
    END IF;
    -- In product order, so racing refunds of one sale lock its lines in the same order.
    BEGIN
        INSERT INTO refunded_lines AS r (purchase_id, product_id, sold, refunded)
        SELECT sale, w.product_id, w.sold, w.taken
        FROM unnest(products, taken, sold) AS w(product_id, taken, sold)
        ORDER BY w.product_id
        ON CONFLICT (purchase_id, product_id) DO UPDATE SET refunded = r.refunded + excluded.refunded;
    EXCEPTION WHEN check_violation THEN
        SELECT w.product_id, w.sold, coalesce(r.refunded, 0) AS refunded INTO over
        FROM unnest(products, taken, sold) AS w(product_id, taken, sold)
        LEFT JOIN refunded_lines r ON r.purchase_id = sale AND r.product_id = w.product_id
        WHERE w.taken > w.sold - coalesce(r.refunded, 0)
        ORDER BY w.product_id LIMIT 1;
        RAISE EXCEPTION 'more than is refundable of sale %', sale USING ERRCODE = 'RF004',
            DETAIL = format('%s,%s,%s', over.product_id, over.sold, over.refunded);
    END;
    INSERT INTO refunds (purchase_id, purchased_at, supermarket_id, till_id, reason,
                         total_amount, approved_by, request_id, idempotency_key, request_hash)
    VALUES (sale, sold_at, store, till, why, total, approver, request, key, hash)
    RETURNING id INTO new_id;
    INSERT INTO refund_lines (refund_id, product_id, quantity, unit_price)
    SELECT new_id, w.product_id, w.taken, w.price
    FROM unnest(products, taken, prices) AS w(product_id, taken, price);
    RETURN refund_answer(new_id) || jsonb_build_object('replayed', false);
END
$$;

-- A recorded refund and what stays refundable of its sale, as record_refund answers it.
CREATE FUNCTION refund_answer(refund bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'refund_id', f.id, 'purchase_id', f.purchase_id, 'supermarket_id', f.supermarket_id,
        'refunded_at', f.refunded_at, 'reason', f.reason, 'total_amount', f.total_amount::text,
        'approved_by', f.approved_by,
        'lines', (SELECT jsonb_agg(jsonb_build_object(
                      'product_id', l.product_id, 'quantity', l.quantity,
                      'unit_price', l.unit_price::text) ORDER BY l.product_id)
                  FROM refund_lines l WHERE l.refund_id = f.id),
        'refundable', (SELECT jsonb_agg(jsonb_build_object(
                           'product_id', i.product_id,
                           'refundable', i.quantity - coalesce(r.refunded, 0))
                           ORDER BY i.product_id)
                       FROM purchase_items i
                       LEFT JOIN refunded_lines r
                           ON r.purchase_id = i.purchase_id AND r.product_id = i.product_id
                       WHERE i.purchase_id = f.purchase_id AND i.purchased_at = f.purchased_at))
    FROM refunds f WHERE f.id = refund;
$$;

REVOKE ALL ON refunds, refund_lines, refunded_lines, daily_refunds, daily_product_returns,
    product_returns FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION count_refunds(), count_units_returned(), sale_to_refund(bigint),
    rebuild_refund_days_of_moved_store(),
    record_refund(text, text, bigint, integer[], integer[], text, text, text, text, bytea,
                  timestamptz, numeric),
    refund_answer(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sale_to_refund(bigint),
    record_refund(text, text, bigint, integer[], integer[], text, text, text, text, bytea,
                  timestamptz, numeric)
    TO supermarket_cash_register;
GRANT SELECT ON daily_refunds, daily_product_returns, product_returns TO supermarket_analytics;
