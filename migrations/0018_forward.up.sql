-- Messages relayed to another system (forward: in the config): each non-command message in a
-- chosen chat is stored here in the same transaction that marks its update handled, so it is
-- relayed at least once, and sent by the one "forwarder" role with backoff. delivery_id goes
-- with every attempt (X-Herald-Delivery), so the receiver can drop a repeat. body is the exact
-- signed JSON: every attempt sends the same bytes under the same signature.
CREATE TABLE forward_queue (
    id           bigserial PRIMARY KEY,
    delivery_id  text        NOT NULL UNIQUE DEFAULT gen_random_uuid()::text,
    update_id    bigint      NOT NULL UNIQUE, -- one relay per Telegram update
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL,
    next_at      timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    failed_at    timestamptz -- the receiver refused it for good (a 4xx): kept for the admin, not retried
);
CREATE INDEX forward_queue_due ON forward_queue (next_at) WHERE failed_at IS NULL;
