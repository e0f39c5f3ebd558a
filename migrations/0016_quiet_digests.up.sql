-- Quiet hours, digests and reminders, per chat and forum topic (thread_id 0 is the chat
-- itself). A row exists once one of them was set; the defaults mean "not set".
CREATE TABLE chat_settings (
    chat_id      bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id    bigint      NOT NULL DEFAULT 0,
    -- Quiet hours: minutes after local midnight in quiet_zone (an IANA name), from inclusive,
    -- to exclusive; from > to crosses midnight. NULL: no quiet hours.
    quiet_from   integer     CHECK (quiet_from BETWEEN 0 AND 1439),
    quiet_to     integer     CHECK (quiet_to BETWEEN 0 AND 1439),
    quiet_zone   text        NOT NULL DEFAULT '',
    quiet_loud   text[]      NOT NULL DEFAULT '{}', -- event kinds that stay loud
    -- Digests: a robfig/cron spec with its CRON_TZ=, '' for none. digest_last is the end of
    -- the last period digested (the schedule's time of the last run, or when the digest was
    -- set): a run claims the next period by moving it, in the transaction that queues the
    -- digest, so a run happens once however many processes or restarts there are.
    digest_spec  text        NOT NULL DEFAULT '',
    digest_empty boolean     NOT NULL DEFAULT false, -- send a digest of an empty period too
    digest_last  timestamptz,
    -- Reminders of builders broken longer than this many seconds; 0: none.
    remind_every integer     NOT NULL DEFAULT 0 CHECK (remind_every >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id),
    CHECK ((quiet_from IS NULL) = (quiet_to IS NULL))
);
CREATE INDEX chat_settings_digests ON chat_settings (chat_id) WHERE digest_spec <> '';
CREATE INDEX chat_settings_reminders ON chat_settings (chat_id) WHERE remind_every > 0;

-- One breakage of a builder and branch as one chat sees it: the breakage is named by the
-- build that broke it (the first failing build after the last good one), so a new breakage
-- is a new row and reminds again. reminded_at is the last reminder; acked_at, set by /ack or
-- the Ack button, silences the breakage for good.
CREATE TABLE breakage_reminders (
    chat_id     bigint      NOT NULL REFERENCES chats (id) ON UPDATE CASCADE ON DELETE CASCADE,
    thread_id   bigint      NOT NULL DEFAULT 0,
    conn        text        NOT NULL,
    build_id    text        NOT NULL,
    reminded_at timestamptz,
    acked_at    timestamptz,
    acked_by    bigint      NOT NULL DEFAULT 0,
    acked_name  text        NOT NULL DEFAULT '',
    PRIMARY KEY (chat_id, thread_id, conn, build_id)
);

-- A digest reads the builds that finished in its period.
CREATE INDEX builds_finished ON builds (finished_at) WHERE complete;
