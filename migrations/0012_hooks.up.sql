-- Generic webhooks (POST /hooks/<name>, package ci/hook).

-- The hooks in the config, written at every start, so /notify on hook:NAME can say whether
-- NAME is a hook and whether this chat may hear it. allow_chats empty: every chat may.
CREATE TABLE hooks (
    name        text        PRIMARY KEY,
    kind        text        NOT NULL,
    allow_chats bigint[]    NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The deliveries of message hooks stored with a key (Idempotency-Key or the hook's dedup
-- template): a repeat finds its key and stores nothing. Kept 7 days: tools retry within
-- minutes or hours. Check hooks use ci_deliveries, like CI webhooks.
CREATE TABLE hook_deliveries (
    hook        text        NOT NULL,
    key         text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hook, key)
);
CREATE INDEX hook_deliveries_received_at ON hook_deliveries (hook, received_at);

-- The fixed chats of message hooks seeded once: a later /notify off hook:NAME there wins over
-- the config, as for the default chats of CI events (seeded_defaults).
CREATE TABLE hook_seeded (
    hook      text   NOT NULL,
    chat_id   bigint NOT NULL,
    thread_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (hook, chat_id, thread_id)
);
