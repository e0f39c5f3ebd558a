-- Messages waiting to go to Telegram. A row is written in the same transaction as what caused
-- it (an event, a command) and deleted only after Telegram accepted it, so a crash loses
-- nothing; at most the message in flight at the crash goes twice. claimed marks rows the
-- running sender holds in memory; a starting sender clears it, taking every row back.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    chat_id         bigint      NOT NULL,
    thread_id       bigint      NOT NULL DEFAULT 0,
    text            text        NOT NULL,
    reply_markup    text,                              -- JSON inline keyboard, as given
    silent          boolean     NOT NULL DEFAULT false,
    edit_message_id integer     NOT NULL DEFAULT 0,
    card_key        text        NOT NULL DEFAULT '',
    card_only       boolean     NOT NULL DEFAULT false,
    update_id       bigint      NOT NULL DEFAULT 0,
    claimed         boolean     NOT NULL DEFAULT false,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_unclaimed ON outbox (id) WHERE NOT claimed;
CREATE INDEX outbox_chat ON outbox (chat_id, id);

-- Messages Telegram refused for good (a 400, a chat that blocked the bot): kept for a person
-- to look at, never retried.
CREATE TABLE outbox_failed (
    id         bigint PRIMARY KEY,
    chat_id    bigint      NOT NULL,
    thread_id  bigint      NOT NULL DEFAULT 0,
    text       text        NOT NULL,
    update_id  bigint      NOT NULL DEFAULT 0,
    attempts   integer     NOT NULL DEFAULT 0,
    error      text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_failed_chat ON outbox_failed (chat_id, failed_at);

-- Live build cards: the Telegram message a build's "started" notification became, so its
-- result edits that message instead of sending a second one. message_id is known only once
-- Telegram accepted the first message.
CREATE TABLE build_cards (
    chat_id    bigint      NOT NULL,
    thread_id  bigint      NOT NULL DEFAULT 0,
    card_key   text        NOT NULL,
    message_id integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id, card_key)
);
CREATE INDEX build_cards_created ON build_cards (created_at);

-- Default chats from the config that were seeded once; a later /notify change survives
-- restarts because a chat here is never seeded again.
CREATE TABLE seeded_defaults (
    chat_id   bigint      NOT NULL,
    thread_id bigint      NOT NULL DEFAULT 0,
    seeded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id)
);
