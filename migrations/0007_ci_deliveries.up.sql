-- The ids of the CI webhook deliveries herald stored (GitHub's X-GitHub-Delivery), so that a
-- redelivery is answered "duplicate delivery" without delivering its events again. The events
-- are idempotent by their key anyway; the id saves the work and says so to whoever redelivers.
-- Pruned with the events (housekeeping).
CREATE TABLE ci_deliveries (
    conn        text        NOT NULL,
    delivery_id text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conn, delivery_id)
);
CREATE INDEX ci_deliveries_received_at ON ci_deliveries (received_at);
