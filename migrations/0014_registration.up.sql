-- Registration (authz.registration: open | approval | invite): which chats may use herald,
-- the requests of those that asked, and invite links.

-- A chat herald lets in. Every chat known before this migration counts as registered, so an
-- installation that upgrades works as it did; so does every chat that uses herald while
-- registration is open (how = 'open'). Chats from the config's chats: count without a row
-- (seeded_defaults).
CREATE TABLE registered_chats (
    chat_id       bigint PRIMARY KEY REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    how           text        NOT NULL CHECK (how IN ('upgrade', 'open', 'approval', 'invite')),
    request_id    bigint,                -- the approved request, for how = 'approval'
    invite_id     bigint,                -- the invite used, for how = 'invite'
    by_user       bigint      NOT NULL DEFAULT 0, -- who approved, or who made the invite
    registered_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO registered_chats (chat_id, how) SELECT id, 'upgrade' FROM chats;

-- A chat's request to be let in, sent with /start (or /notify on) while registration is
-- approval. One pending request per chat; decided ones stay as the record.
CREATE TABLE registration_requests (
    id              bigserial PRIMARY KEY,
    chat_id         bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id       bigint      NOT NULL DEFAULT 0,
    chat_type       text        NOT NULL DEFAULT '',
    chat_title      text        NOT NULL DEFAULT '',
    user_id         bigint      NOT NULL,
    user_name       text        NOT NULL DEFAULT '', -- Telegram @username, without @
    first_name      text        NOT NULL DEFAULT '',
    events          text[]      NOT NULL DEFAULT '{}', -- the subscription approval applies
    builders        text[]      NOT NULL DEFAULT '{}',
    branches        text[]      NOT NULL DEFAULT '{}',
    requested_at    timestamptz NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    decided_by      bigint      NOT NULL DEFAULT 0,
    decided_by_name text        NOT NULL DEFAULT '',
    decided_at      timestamptz
);
CREATE UNIQUE INDEX registration_requests_pending ON registration_requests (chat_id) WHERE status = 'pending';

-- An invite link's code, stored only as its SHA-256: this table never holds a code that
-- works. (The /invite reply carries it in the outbox until sent, and the /start that opens
-- it sits in updates until handled; then the update keeps /start alone, and a reply kept in
-- outbox_failed keeps no code.)
CREATE TABLE invites (
    id              bigserial PRIMARY KEY,
    code_sha256     bytea       NOT NULL UNIQUE CHECK (length(code_sha256) = 32),
    uses            integer     NOT NULL CHECK (uses > 0),
    uses_left       integer     NOT NULL CHECK (uses_left >= 0 AND uses_left <= uses),
    expires_at      timestamptz NOT NULL,
    created_by      bigint      NOT NULL,
    created_by_name text        NOT NULL DEFAULT '',
    chat_id         bigint      NOT NULL, -- where /invite was sent
    created_at      timestamptz NOT NULL
);
