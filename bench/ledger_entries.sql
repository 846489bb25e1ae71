-- A million entries in 300 tills' chains, made set-based: sales of the seed's products spread
-- over the last 60 days (each with its aggregates, as the triggers keep them), chained by the
-- ledger's own function in chunks, then each till's period closed. psql -v entries=N.
SET shop.maintenance = on;
INSERT INTO purchases (id, purchased_at, supermarket_id, customer_id, total_amount, till_id,
                       received_at)
SELECT nextval('purchases_id_seq'), now() - make_interval(secs => 5184000.0 * n / :entries),
       'SMKT00' || (1 + n % 3), gen_random_uuid(), 0, 'ledger-till-' || (1 + n % 300), now()
FROM generate_series(1, :entries) AS n;
INSERT INTO purchase_items (purchase_id, purchased_at, supermarket_id, product_id, quantity,
                            unit_price)
SELECT p.id, p.purchased_at, p.supermarket_id, r.id, 1 + (p.id + r.id) % 3, r.unit_price
FROM purchases p
CROSS JOIN LATERAL (SELECT id, unit_price FROM products
                    ORDER BY (id * 7919 + p.id) % 101 LIMIT 1 + p.id % 3) r
WHERE p.till_id LIKE 'ledger-till-%';
-- Sales are append-only; their totals are set here, with maintenance on, before chaining.
UPDATE purchases p SET total_amount = t.total
FROM (SELECT purchase_id, sum(quantity * unit_price) AS total FROM purchase_items
      GROUP BY purchase_id) t
WHERE t.purchase_id = p.id AND p.till_id LIKE 'ledger-till-%';
DO $$
DECLARE
    low bigint;
    high bigint;
BEGIN
    SELECT min(id), max(id) INTO low, high FROM purchases WHERE till_id LIKE 'ledger-till-%';
    WHILE low <= high LOOP
        PERFORM count(*) FROM append_to_chains(ARRAY(
            SELECT ROW(p.till_id, 'sale', p.supermarket_id, p.purchased_at, p.customer_id,
                       '[' || (SELECT string_agg(ledger_line(r.name, i.quantity, i.unit_price),
                                                 ',' ORDER BY r.name COLLATE "C")
                               FROM purchase_items i JOIN products r ON r.id = i.product_id
                               WHERE i.purchase_id = p.id AND i.purchased_at = p.purchased_at)
                       || ']',
                       p.total_amount, p.id, p.purchased_at, NULL, NULL)::ledger_entry
            FROM purchases p
            WHERE p.id BETWEEN low AND low + 49999 AND p.till_id LIKE 'ledger-till-%'
            ORDER BY p.id));
        low := low + 50000;
    END LOOP;
END
$$;
SELECT count(close_till(till_id, supermarket_id, false, NULL)) FROM till_ledgers;
-- As autovacuum would within a minute of such a load: the verifier's plans rest on it.
ANALYZE;
