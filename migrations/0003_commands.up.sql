-- A question herald is waiting for one user to answer in one chat (or forum topic): the
-- /force parameters being filled in, the /stop reason. Kept here so a conversation half done
-- goes on after a restart. One per user per chat and topic: starting another replaces it,
-- and the new id makes the old keyboard's buttons stale.
CREATE TABLE conversations (
    id         bigserial   UNIQUE,
    chat_id    bigint      NOT NULL,
    thread_id  bigint      NOT NULL DEFAULT 0,
    user_id    bigint      NOT NULL,
    data       jsonb       NOT NULL,
    expires_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id, user_id)
);
CREATE INDEX conversations_expires ON conversations (expires_at);

-- Every attempt at a dangerous command (force, stop), allowed or denied: who, where, what,
-- on which builder, and how it went. Only ever appended to.
CREATE TABLE audit_log (
    id        bigserial   PRIMARY KEY,
    at        timestamptz NOT NULL,
    user_id   bigint      NOT NULL,
    user_name text        NOT NULL DEFAULT '',
    chat_id   bigint      NOT NULL,
    thread_id bigint      NOT NULL DEFAULT 0,
    command   text        NOT NULL,
    args      text        NOT NULL DEFAULT '',
    conn      text        NOT NULL DEFAULT '',
    builder   text        NOT NULL DEFAULT '',
    outcome   text        NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
    detail    text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
