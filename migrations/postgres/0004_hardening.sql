-- Products carry a version for optimistic concurrency (If-Match, and PATCHes
-- that both stick).
ALTER TABLE products ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Queued mail says what it is and when it stops being worth sending. Sign-in
-- mails queued before this held their code in clear (in the subject too) and
-- have expired anyway: they go.
DELETE FROM mail_queue WHERE subject LIKE 'Your storefront sign-in code%';
ALTER TABLE mail_queue ADD COLUMN kind TEXT NOT NULL DEFAULT 'welcome';
ALTER TABLE mail_queue ADD COLUMN expires_at TIMESTAMPTZ;
CREATE INDEX mail_queue_expiring ON mail_queue (expires_at) WHERE expires_at IS NOT NULL;

-- Signed-out tokens when there is no Redis, kept until they would have expired.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
