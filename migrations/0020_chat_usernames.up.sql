-- Chats the config names by @username (Buildbot's form for channels), resolved with getChat
-- once and kept by id: later starts need no Telegram call, and a channel that changes its
-- username keeps its subscriptions (the id does not change).
CREATE TABLE chat_usernames (
    username    text        PRIMARY KEY,  -- lower case, without the @
    chat_id     bigint      NOT NULL,
    resolved_at timestamptz NOT NULL DEFAULT now()
);
