-- Chats herald talks to, and forum topics inside them.
CREATE TABLE chats (
    id            bigint PRIMARY KEY,
    type          text        NOT NULL,            -- private | group | supergroup | channel
    title         text        NOT NULL DEFAULT '',
    username      text        NOT NULL DEFAULT '',
    is_forum      boolean     NOT NULL DEFAULT false,
    card_mode     text        NOT NULL DEFAULT 'edit' CHECK (card_mode IN ('edit', 'new')),
    loud_success  boolean     NOT NULL DEFAULT false, -- successes notify with sound
    paused_at     timestamptz,                       -- set when Telegram answered 403
    paused_reason text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE forum_topics (
    chat_id    bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id  bigint      NOT NULL,
    name       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id)
);

-- The next getUpdates offset. One row.
CREATE TABLE telegram_offset (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every update received, stored before it is acknowledged to Telegram; handled_at is set in
-- the transaction that stores what handling it produced, so a crash neither loses nor
-- repeats a command.
CREATE TABLE updates (
    update_id   bigint PRIMARY KEY,
    chat_id     bigint      NOT NULL DEFAULT 0,
    payload     jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    handled_at  timestamptz
);
CREATE INDEX updates_pending ON updates (update_id) WHERE handled_at IS NULL;

-- What a chat (or one forum topic of it) wants to hear about. thread_id 0 is the chat itself.
-- builders and branches are glob patterns; empty means all.
CREATE TABLE subscriptions (
    chat_id    bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id  bigint      NOT NULL DEFAULT 0,
    events     text[]      NOT NULL DEFAULT '{}',
    builders   text[]      NOT NULL DEFAULT '{}',
    branches   text[]      NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id)
);
CREATE INDEX subscriptions_events ON subscriptions USING gin (events);

-- A chat watching one running build: it gets that build's finished message whatever its
-- subscriptions say. Removed when the build finishes.
CREATE TABLE watches (
    chat_id    bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id  bigint      NOT NULL DEFAULT 0,
    conn       text        NOT NULL,
    build_id   text        NOT NULL,
    builder    text        NOT NULL DEFAULT '',
    user_id    bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id, conn, build_id)
);
CREATE INDEX watches_build ON watches (conn, build_id);

-- A build forced from a chat, followed until it starts (then it becomes a watch).
CREATE TABLE followups (
    chat_id    bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id  bigint      NOT NULL DEFAULT 0,
    conn       text        NOT NULL,
    request_id text        NOT NULL,
    builder    text        NOT NULL DEFAULT '',
    user_id    bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id, conn, request_id)
);
CREATE INDEX followups_request ON followups (conn, request_id);

-- Inline-button payloads. Telegram carries at most 64 bytes of callback data, so a button
-- carries only this key; the payload stays here and survives restarts.
CREATE TABLE callbacks (
    key        text PRIMARY KEY,
    chat_id    bigint      NOT NULL,
    data       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_created ON callbacks (created_at);
