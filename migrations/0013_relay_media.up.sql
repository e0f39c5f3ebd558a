-- A Bot API call a tool made through herald's relay (bot/relay) goes out the way the tool
-- asked, not the way herald formats its own messages: its method, its parse mode (Telegram
-- parses the text, as it would have had the tool called it directly), parameters passed on
-- verbatim (link_preview_options), and for sendPhoto and sendDocument the file: the bytes
-- uploaded to herald, or a URL or file_id Telegram fetches itself. The row lives and dies with
-- its outbox row: sent, refused for good or dropped with a paused chat, it goes too.
CREATE TABLE outbox_media (
    outbox_id    bigint PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    method       text   NOT NULL CHECK (method IN ('sendMessage', 'sendPhoto', 'sendDocument')),
    parse_mode   text   NOT NULL DEFAULT '',
    options      jsonb,                        -- further parameters, a JSON object, or NULL
    file_ref     text   NOT NULL DEFAULT '',   -- a URL or file_id; '' when file_data is the file
    file_name    text   NOT NULL DEFAULT '',
    content_type text   NOT NULL DEFAULT '',
    file_data    bytea
);
