-- A cart is a user's (user_id) or a guest's (user_id NULL, found by the id
-- in the guest's cookie).
CREATE TABLE carts (
    id         TEXT PRIMARY KEY,
    user_id    BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE cart_items (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cart_id    TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id BIGINT NOT NULL REFERENCES products (id),
    size       TEXT NOT NULL CHECK (size IN ('S', 'M', 'L', 'XL', 'XXL')),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    -- The title when the line was added, shown if the product is deleted.
    title      TEXT NOT NULL,
    UNIQUE (cart_id, product_id, size)
);

CREATE TABLE orders (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id),
    email               TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('placed', 'cancelled', 'fulfilled')),
    currency            TEXT NOT NULL,
    subtotal            BIGINT NOT NULL CHECK (subtotal >= 0),
    shipping_address    TEXT NOT NULL, -- JSON snapshot of the address
    idempotency_key     TEXT,
    request_fingerprint TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, idempotency_key)
);

CREATE INDEX orders_by_user ON orders (user_id, id);
CREATE INDEX orders_by_status ON orders (status, id);

CREATE TABLE order_lines (
    order_id   BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    product_id BIGINT NOT NULL,
    title      TEXT NOT NULL,
    size       TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, position)
);

-- Events written in the transaction of the change they tell about, relayed
-- to the bus after commit (and at start, for what a crash left here).
CREATE TABLE outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
