-- Products carry a version for optimistic concurrency (If-Match, and PATCHes
-- that both stick), and their keywords as plain text, as on PostgreSQL, so
-- both databases run the same INSERT and UPDATE.
ALTER TABLE products ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE products ADD COLUMN keywords_text TEXT NOT NULL DEFAULT '';
UPDATE products
SET keywords_text = COALESCE((SELECT group_concat(value, ' ') FROM json_each(products.keywords)), '');

-- The full-text index follows the products table by itself.
CREATE TRIGGER products_fts_after_insert AFTER INSERT ON products
WHEN new.deleted_at IS NULL
BEGIN
    INSERT INTO products_fts (rowid, title, description, keywords)
    VALUES (new.id, new.title, new.description, new.keywords_text);
END;

CREATE TRIGGER products_fts_after_update
AFTER UPDATE OF title, description, keywords_text, deleted_at ON products
BEGIN
    DELETE FROM products_fts WHERE rowid = old.id;
    INSERT INTO products_fts (rowid, title, description, keywords)
    SELECT new.id, new.title, new.description, new.keywords_text
    WHERE new.deleted_at IS NULL;
END;

CREATE TRIGGER products_fts_after_delete AFTER DELETE ON products
BEGIN
    DELETE FROM products_fts WHERE rowid = old.id;
END;

-- Queued mail says what it is and when it stops being worth sending. Sign-in
-- mails queued before this held their code in clear (in the subject too) and
-- have expired anyway: they go.
DELETE FROM mail_queue WHERE subject LIKE 'Your storefront sign-in code%';
ALTER TABLE mail_queue ADD COLUMN kind TEXT NOT NULL DEFAULT 'welcome';
ALTER TABLE mail_queue ADD COLUMN expires_at TEXT;
CREATE INDEX mail_queue_expiring ON mail_queue (expires_at) WHERE expires_at IS NOT NULL;

-- Signed-out tokens, kept until they would have expired: a restart must not
-- bring a signed-out session back.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
