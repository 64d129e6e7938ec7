-- The catalogue is searched in memory now (src/catalogue): the full-text
-- table and the text column that fed it go.
DROP TRIGGER products_fts_after_insert;
DROP TRIGGER products_fts_after_update;
DROP TRIGGER products_fts_after_delete;
DROP TABLE products_fts;
ALTER TABLE products DROP COLUMN keywords_text;

-- Every catalogue write takes the next tick of one clock and marks the
-- product with it, in the write's transaction: a node that polls the clock
-- learns which products other nodes changed since it last looked.
CREATE TABLE catalogue_clock (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    tick INTEGER NOT NULL
);
INSERT INTO catalogue_clock (id, tick) VALUES (1, 0);
ALTER TABLE products ADD COLUMN changed_at_tick INTEGER NOT NULL DEFAULT 0;
CREATE INDEX products_by_change ON products (changed_at_tick);
