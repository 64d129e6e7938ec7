-- Mail that could not be delivered at once: kept until delivered, retried
-- with backoff, and left (dead) for an operator after too many tries.
CREATE TABLE mail_queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sender          TEXT,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    raw             BLOB NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    dead            INTEGER NOT NULL DEFAULT 0 CHECK (dead IN (0, 1)),
    created_at      TEXT NOT NULL
);

CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE dead = 0;
