-- Timely and quiet (issue 12): the sender, not the notifier, decides what goes first, what
-- becomes one message and what answers what, because only it knows what is still queued and
-- what each chat's rate allows. The notifier leaves on each row what that takes.
--
-- priority: 2 interactive (ahead of every notification, like a row with an update_id),
-- 1 a problem (ahead of other notifications), 0 the rest.
-- group_key/group_item: rows of one chat and topic with the same key that arrive within
-- notifications.group_window become one message; group_item is the notifier's one-line
-- rendering of the row and what its headline needs (JSON), '' when the row is never grouped.
-- anchor_key: once sent, the message is remembered as the one a later reply_to_key answers
-- (a problem for a builder and branch); reply_to_key: sent as a reply to that message (its
-- recovery).
ALTER TABLE outbox
    ADD COLUMN priority     smallint NOT NULL DEFAULT 0,
    ADD COLUMN group_key    text     NOT NULL DEFAULT '',
    ADD COLUMN group_item   text     NOT NULL DEFAULT '',
    ADD COLUMN anchor_key   text     NOT NULL DEFAULT '',
    ADD COLUMN reply_to_key text     NOT NULL DEFAULT '';

-- A reply is claimed ahead of a backlog held in memory up to the sender's cap.
CREATE INDEX outbox_interactive ON outbox (id) WHERE NOT claimed AND (update_id <> 0 OR priority >= 2);

-- The message a group of rows became, with what it shows, so a later row of the same group
-- edits it (also after a restart) while the window is open: the window counts from the last
-- time the message was sent or edited (updated_at), and a group is never older than ten
-- windows (opened_at, when it was first sent).
CREATE TABLE message_groups (
    chat_id    bigint      NOT NULL,
    thread_id  bigint      NOT NULL DEFAULT 0,
    group_key  text        NOT NULL,
    message_id integer     NOT NULL,
    opened_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    members    jsonb       NOT NULL,
    PRIMARY KEY (chat_id, thread_id, group_key)
);
CREATE INDEX message_groups_opened ON message_groups (opened_at);

-- The message a later one replies to: a chat's problem message for a builder and branch,
-- answered by its recovery. Kept until the recovery went out (or pruned when very old).
CREATE TABLE reply_anchors (
    chat_id    bigint      NOT NULL,
    thread_id  bigint      NOT NULL DEFAULT 0,
    anchor_key text        NOT NULL,
    message_id integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, thread_id, anchor_key)
);
CREATE INDEX reply_anchors_created ON reply_anchors (created_at);
