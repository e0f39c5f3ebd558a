-- Recent sends Telegram accepted, so that a sender starting after a crash or restart knows
-- what the previous process sent in the last minute and stays inside Telegram's windows
-- (1/s per chat, 20/min per group, 30/s overall) instead of provoking 429s. A row is written
-- in the transaction that acknowledges the send; the sender prunes rows older than a minute,
-- so the table holds at most a couple of minutes of sends (about 3,600 rows at full rate).
-- sent_at is the sender's clock when Telegram answered: never earlier than when Telegram
-- counted the send, which keeps the seeded windows on the safe side.
CREATE TABLE sent_log (
    chat_id bigint      NOT NULL,
    sent_at timestamptz NOT NULL
);
CREATE INDEX sent_log_sent_at ON sent_log (sent_at);
