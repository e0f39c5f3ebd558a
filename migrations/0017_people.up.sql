-- People: which Telegram user a CI identity (a GitHub or GitLab login, a commit email, a
-- Buildbot author) belongs to, so that a problem message can mention who broke it.

-- A link of one CI identity to one Telegram user. Links from the config's people: are
-- seeded at every start (source = 'config', read-only in the chat); a user asks for one
-- with /iam and an admin decides with a button (source = 'iam'). Decided requests stay as
-- the record; a link the user takes back with /iam off is 'removed'.
CREATE TABLE people_links (
    id              bigserial PRIMARY KEY,
    telegram_id     bigint      NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('github', 'gitlab', 'email', 'buildbot')),
    identity        text        NOT NULL CHECK (identity <> ''), -- as matched (see store.IdentityKey)
    source          text        NOT NULL CHECK (source IN ('config', 'iam')),
    status          text        NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'removed')),
    name            text        NOT NULL DEFAULT '', -- the user's name when they asked, for mentions
    chat_id         bigint      NOT NULL DEFAULT 0, -- where they asked (told there of the decision)
    thread_id       bigint      NOT NULL DEFAULT 0,
    requested_at    timestamptz NOT NULL,
    decided_by      bigint      NOT NULL DEFAULT 0,
    decided_by_name text        NOT NULL DEFAULT '',
    decided_at      timestamptz
);
-- One person per identity: a second user cannot take over an address someone has.
CREATE UNIQUE INDEX people_links_linked ON people_links (kind, identity) WHERE status = 'approved';
-- Asking twice while a request waits is the same request.
CREATE UNIQUE INDEX people_links_pending ON people_links (telegram_id, kind, identity) WHERE status = 'pending';
CREATE INDEX people_links_user ON people_links (telegram_id) WHERE status IN ('approved', 'pending');

-- Whether problem messages in a group (or one of its forum topics) mention who broke the
-- build: off unless the chat turned it on (/notify mentions on). Private chats are always
-- mentioned in and need no row.
CREATE TABLE chat_mentions (
    chat_id    bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id  bigint      NOT NULL DEFAULT 0,
    enabled    boolean     NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id)
);
