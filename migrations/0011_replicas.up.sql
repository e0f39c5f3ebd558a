-- Several herald processes on one database. Each process holds a session-level advisory lock
-- on (hashtext('herald.process'), id) on a connection of its own for as long as it runs, and
-- beats seen_at every second or so: a process is alive while both hold. Roles (the poller, the
-- sender, each CI follower, the scheduled jobs) are advisory locks on that same connection, so
-- a process that dies or loses its connection loses its roles and its liveness at once.
CREATE TABLE processes (
    id         integer     PRIMARY KEY,
    name       text        NOT NULL,              -- host:pid, for logs and diagnostics
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);

-- A claim names the process holding the row in memory. It expires when that process is no
-- longer alive (its lock is gone, or it was not seen for the claim TTL); a starting sender
-- takes back only such claims, never a live process's. Rows claimed before this migration
-- (claimed_by NULL) belong to nobody and are taken back.
ALTER TABLE outbox ADD COLUMN claimed_by integer;
