-- Whether a try is sending a mail now, apart from when it is due: until a
-- try records its outcome, the mail is leased to it, and an operator's retry
-- must not make it due again (a second try would send it twice). Set by the
-- try that writes or claims the mail, cleared when it records a failure;
-- mails queued before this are waiting, not being sent.
ALTER TABLE mail_queue ADD COLUMN leased_until TEXT;
