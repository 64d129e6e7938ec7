-- Mail that could not be delivered at once: kept until delivered, retried
-- with backoff, and left (dead) for an operator after too many tries.
CREATE TABLE mail_queue (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender          TEXT,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    raw             BYTEA NOT NULL,
    attempts        BIGINT NOT NULL,
    last_error      TEXT NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    dead            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE NOT dead;
