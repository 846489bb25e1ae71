-- One sale in a hundred taken back whole, a day after it was sold, at its own store: the
-- refunds a chain of this size would hold, written set-based by the owner (the tills' path,
-- record_refund, is measured in the refunds section). The rollup triggers fold them as they
-- fold the tills' refunds.
WITH chosen AS (
    SELECT p.id, p.purchased_at, p.supermarket_id, p.total_amount,
           nextval('refunds_id_seq') AS refund_id
    FROM purchases p
    WHERE p.id % 100 = 0
),
refund AS (
    INSERT INTO refunds (id, purchase_id, purchased_at, supermarket_id, till_id, refunded_at,
                         reason, total_amount)
    SELECT refund_id, id, purchased_at, supermarket_id, 'bench-till',
           purchased_at + interval '1 day', 'returned', total_amount
    FROM chosen
),
cap AS (
    INSERT INTO refunded_lines (purchase_id, product_id, sold, refunded)
    SELECT i.purchase_id, i.product_id, i.quantity, i.quantity
    FROM purchase_items i JOIN chosen c ON c.id = i.purchase_id AND c.purchased_at = i.purchased_at
)
INSERT INTO refund_lines (refund_id, product_id, quantity, unit_price)
SELECT c.refund_id, i.product_id, i.quantity, i.unit_price
FROM purchase_items i JOIN chosen c ON c.id = i.purchase_id AND c.purchased_at = i.purchased_at;
