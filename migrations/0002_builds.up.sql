-- Build history: one row per build a CI connection reported, kept so a finished build can be
-- compared with the previous one of its builder and branch (problem, recovery, worse, better)
-- and so /last answers without asking the CI. Text columns default to '' because providers
-- fill what they can.
CREATE TABLE builds (
    conn        text        NOT NULL,
    build_id    text        NOT NULL,
    builder     text        NOT NULL DEFAULT '',
    builder_id  text        NOT NULL DEFAULT '',
    number      integer     NOT NULL DEFAULT 0,
    branch      text        NOT NULL DEFAULT '',
    revision    text        NOT NULL DEFAULT '',
    owner       text        NOT NULL DEFAULT '',
    author      text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    started_at  timestamptz,
    finished_at timestamptz,                      -- NULL while running
    complete    boolean     NOT NULL DEFAULT false,
    result      text        NOT NULL DEFAULT '',  -- ci.Result; '' while running
    state_text  text        NOT NULL DEFAULT '',
    failed_step text        NOT NULL DEFAULT '',
    url         text        NOT NULL DEFAULT '',
    request_id  text        NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conn, build_id)
);
-- "The previous completed build of this builder and branch": only comparable builds (a retry
-- is replaced by the build that retries it) are ever the previous one.
CREATE INDEX builds_previous ON builds (conn, builder, branch, finished_at DESC, number DESC)
    WHERE complete AND result NOT IN ('', 'retry');
-- "The last completed build of every builder", for /last.
CREATE INDEX builds_last ON builds (conn, builder, finished_at DESC, number DESC)
    WHERE complete;
-- Following a forced build by its request id.
CREATE INDEX builds_request ON builds (conn, request_id) WHERE request_id <> '';

-- Every raw CI event received, by its idempotency key (ci.Event.Key): a second delivery of the
-- same event finds the key taken and changes nothing. payload is the event as stored, with the
-- kinds derived from the build history.
CREATE TABLE ci_events (
    id         bigserial   PRIMARY KEY,
    key        text        NOT NULL UNIQUE,
    conn       text        NOT NULL,
    kind       text        NOT NULL,
    build_id   text        NOT NULL DEFAULT '',
    payload    jsonb       NOT NULL,
    at         timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ci_events_conn_at ON ci_events (conn, at);
CREATE INDEX ci_events_created ON ci_events (created_at);

-- Per connection, the time of the newest event stored: after a restart the provider catches up
-- from here.
CREATE TABLE ci_cursors (
    conn       text        PRIMARY KEY,
    seen_at    timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
