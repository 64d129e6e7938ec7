-- The bus messages each consumer (a queue) claimed or handled, so that a
-- message the broker delivers twice (a redelivery, or the same id published
-- twice) is handled once, even by two nodes at the same moment. A claim not
-- done within a lease can be taken over (its node died). Kept a week: far
-- longer than any redelivery, and not tied to the sender's clock.
CREATE TABLE handled_messages (
    consumer   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL,
    done       BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (consumer, message_id)
);

CREATE INDEX handled_messages_by_age ON handled_messages (claimed_at);
