CREATE TABLE products (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    price               INTEGER NOT NULL CHECK (price >= 0),
    currency            TEXT NOT NULL,
    discount_percentage INTEGER NOT NULL CHECK (discount_percentage BETWEEN 0 AND 100),
    final_price         INTEGER NOT NULL CHECK (final_price >= 0),
    category            TEXT NOT NULL,
    dress_type          TEXT,
    keywords            TEXT NOT NULL, -- JSON array of strings
    image_urls          TEXT NOT NULL, -- JSON array of strings
    faq                 TEXT NOT NULL, -- JSON array of {question, answer}
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    -- Deleted products leave listings but stay for the orders that name them.
    deleted_at          TEXT
);

CREATE INDEX products_live_by_category ON products (lower(category)) WHERE deleted_at IS NULL;
CREATE INDEX products_live_by_price ON products (final_price) WHERE deleted_at IS NULL;
CREATE INDEX products_live_by_age ON products (created_at) WHERE deleted_at IS NULL;

CREATE TABLE product_variants (
    product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    size       TEXT NOT NULL CHECK (size IN ('S', 'M', 'L', 'XL', 'XXL')),
    stock      INTEGER NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (product_id, size)
);

-- Text search over live products; rowid = products.id, kept in step by the store.
CREATE VIRTUAL TABLE products_fts USING fts5 (title, description, keywords, tokenize = 'porter unicode61');
