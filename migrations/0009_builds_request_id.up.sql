-- A forced or re-run build is found by its request id when the chat's follow-up is added after
-- the CI already reported it (GitHub's webhook can come before the dispatch's answer).
CREATE INDEX builds_request_id ON builds (conn, request_id) WHERE request_id <> '';
