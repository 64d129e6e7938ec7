-- Guest carts are named by the server now: a guest's cookie holds a signed
-- token and the cart's id is its hash. Carts named by their guests before
-- cannot be reached by any cookie the server accepts: they go.
DELETE FROM carts WHERE user_id IS NULL;

-- When a cart last changed: guest carts untouched for cart.guest_ttl_secs
-- are deleted by a round one node claims at a time.
ALTER TABLE carts ADD COLUMN touched_at TEXT NOT NULL DEFAULT '1970-01-01T00:00:00+00:00';
UPDATE carts SET touched_at = created_at;
CREATE INDEX guest_carts_by_touch ON carts (touched_at) WHERE user_id IS NULL;

-- Background rounds that one node runs at a time: a node runs a round only
-- when it moved the round's lease past the database's now.
CREATE TABLE rounds (
    name         TEXT PRIMARY KEY,
    leased_until TEXT NOT NULL
);

-- How many units of a cancelled order's line went back to stock (none for
-- a size removed since, fewer where the stock is at its maximum).
ALTER TABLE order_lines ADD COLUMN restocked INTEGER;

-- An erased account keeps its row, emptied, for the orders that name it.
ALTER TABLE users ADD COLUMN deleted_at TEXT;

-- Every session of an erased user is refused until it would have expired.
CREATE TABLE revoked_users (
    user_id    INTEGER PRIMARY KEY,
    expires_at TEXT NOT NULL
);
