CREATE TABLE products (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    price               BIGINT NOT NULL CHECK (price >= 0),
    currency            TEXT NOT NULL,
    discount_percentage BIGINT NOT NULL CHECK (discount_percentage BETWEEN 0 AND 100),
    final_price         BIGINT NOT NULL CHECK (final_price >= 0),
    category            TEXT NOT NULL,
    dress_type          TEXT,
    keywords            TEXT NOT NULL, -- JSON array of strings
    keywords_text       TEXT NOT NULL, -- the keywords joined, for search
    image_urls          TEXT NOT NULL, -- JSON array of strings
    faq                 TEXT NOT NULL, -- JSON array of {question, answer}
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    -- Deleted products leave listings but stay for the orders that name them.
    deleted_at          TIMESTAMPTZ,
    search              TSVECTOR GENERATED ALWAYS AS (
                            setweight(to_tsvector('english', title), 'A')
                            || setweight(to_tsvector('english', keywords_text), 'B')
                            || setweight(to_tsvector('english', description), 'C')
                        ) STORED
);

CREATE INDEX products_search ON products USING GIN (search);
CREATE INDEX products_live_by_category ON products (lower(category)) WHERE deleted_at IS NULL;
CREATE INDEX products_live_by_price ON products (final_price) WHERE deleted_at IS NULL;
CREATE INDEX products_live_by_age ON products (created_at) WHERE deleted_at IS NULL;

CREATE TABLE product_variants (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    size       TEXT NOT NULL CHECK (size IN ('S', 'M', 'L', 'XL', 'XXL')),
    stock      BIGINT NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (product_id, size)
);
