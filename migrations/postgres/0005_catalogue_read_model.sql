-- The catalogue is searched in memory now (src/catalogue): the text vector,
-- its index and the text column that fed it go.
ALTER TABLE products DROP COLUMN search;
ALTER TABLE products DROP COLUMN keywords_text;

-- Every catalogue write takes the next tick of one clock and marks the
-- product with it, in the write's transaction. The clock's row lock orders
-- writers, so ticks are committed in order: a node that polls the clock
-- learns which products other nodes changed since it last looked, and
-- misses none.
CREATE TABLE catalogue_clock (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    tick BIGINT NOT NULL
);
INSERT INTO catalogue_clock (id, tick) VALUES (1, 0);
ALTER TABLE products ADD COLUMN changed_at_tick BIGINT NOT NULL DEFAULT 0;
CREATE INDEX products_by_change ON products (changed_at_tick);
