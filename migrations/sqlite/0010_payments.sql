-- The payment side of an order, beside its status: how it is paid
-- (`manual` or `stripe`), where that stands, and what the provider knows it
-- by. Orders placed before payments existed were never asked to pay: a
-- fulfilled one counts as paid, the others wait with no deadline (only an
-- order given a `payment_due_at` at checkout can expire).
ALTER TABLE orders ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'awaiting'
    CHECK (payment_status IN ('awaiting', 'paid', 'refunded', 'expired'));
ALTER TABLE orders ADD COLUMN payment_provider TEXT NOT NULL DEFAULT 'manual'
    CHECK (payment_provider IN ('manual', 'stripe'));
ALTER TABLE orders ADD COLUMN payment_intent_id TEXT;
ALTER TABLE orders ADD COLUMN payment_client_secret TEXT;
-- The operator's note of a manual payment (a transfer's reference), or the
-- Stripe event that told of it.
ALTER TABLE orders ADD COLUMN payment_reference TEXT;
-- Why the last try to pay failed (a declined card), while still awaiting.
ALTER TABLE orders ADD COLUMN payment_failure TEXT;
ALTER TABLE orders ADD COLUMN refund_reference TEXT;
ALTER TABLE orders ADD COLUMN payment_due_at TEXT;
ALTER TABLE orders ADD COLUMN paid_at TEXT;
-- The node expiring the order now, until when: of nodes sweeping together,
-- one expires it.
ALTER TABLE orders ADD COLUMN expiry_claimed_by TEXT;
ALTER TABLE orders ADD COLUMN expiry_claimed_until TEXT;

UPDATE orders SET payment_status = 'paid', payment_reference = 'fulfilled before payments'
WHERE status = 'fulfilled';

CREATE UNIQUE INDEX orders_by_payment_intent ON orders (payment_intent_id);
CREATE INDEX orders_by_payment_status ON orders (payment_status, id);
CREATE INDEX orders_awaiting_payment ON orders (payment_due_at)
    WHERE payment_status = 'awaiting' AND status = 'placed';

-- A refund asked of the provider and not yet recorded: the order can be
-- neither fulfilled nor expired meanwhile, and a cancellation that a crash
-- cut short asks again (under the same idempotency key) and finishes.
ALTER TABLE orders ADD COLUMN refund_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN refund_started_at TEXT;
