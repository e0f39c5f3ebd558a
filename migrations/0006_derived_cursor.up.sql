-- A connection's catch-up cursor is derived from the events themselves (the newest ci_events.at
-- of the connection, read through ci_events_conn_at) instead of being kept in a row that every
-- event transaction updated: that row made the events of one connection commit one after
-- another, each waiting for the previous one's flush to disk. The derived value is the same
-- (the greatest time of any event stored) and cannot drift from the events.
DROP TABLE ci_cursors;
