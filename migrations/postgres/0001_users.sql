CREATE TABLE users (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,
    phone_number TEXT,
    name         TEXT,
    role         TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE addresses (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label      TEXT,
    street     TEXT NOT NULL,
    city       TEXT NOT NULL,
    state      TEXT,
    zip_code   TEXT NOT NULL,
    country    TEXT NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX addresses_by_user ON addresses (user_id);
-- At most one default address per user.
CREATE UNIQUE INDEX one_default_address ON addresses (user_id) WHERE is_default;
