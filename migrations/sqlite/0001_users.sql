CREATE TABLE users (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    email        TEXT NOT NULL UNIQUE,
    phone_number TEXT,
    name         TEXT,
    role         TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE addresses (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label      TEXT,
    street     TEXT NOT NULL,
    city       TEXT NOT NULL,
    state      TEXT,
    zip_code   TEXT NOT NULL,
    country    TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE INDEX addresses_by_user ON addresses (user_id);
-- At most one default address per user.
CREATE UNIQUE INDEX one_default_address ON addresses (user_id) WHERE is_default = 1;
