package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Relayed Bot API methods (RelayCall.Method).
const (
	RelaySendMessage  = "sendMessage"
	RelaySendPhoto    = "sendPhoto"
	RelaySendDocument = "sendDocument"
)

// RelayCall is how a relayed outbox row goes out (bot/relay takes the call, the sender makes
// it): a tool that called herald as if it were Telegram gets the message Telegram would have
// made of its call, so the call's own method, parse mode and options travel with the row. The
// row's Text is the message text, or the caption of a photo or document.
type RelayCall struct {
	Method    string // RelaySendMessage, RelaySendPhoto or RelaySendDocument
	ParseMode string // as the tool gave it ("" for none); Telegram parses the text
	// Options is a JSON object of further parameters passed on as they are
	// (link_preview_options), nil for none.
	Options []byte
	File    RelayFile // sendPhoto, sendDocument
}

// RelayFile is the photo or document of a relayed call: either Ref, a URL or file_id that
// Telegram fetches itself, or Data, the bytes the tool uploaded, which herald uploads in turn.
type RelayFile struct {
	Ref         string
	Name        string // the uploaded file's name, shown for a document
	ContentType string
	Data        []byte
}

// EnqueueRelay queues one relayed call and returns its outbox id, which the relay answers
// with as the message's id. The row and its call commit together, and Enqueue's wake-up is
// delivered only at that commit, so the sender never claims a relayed row without its call.
func (s *Store) EnqueueRelay(ctx context.Context, m OutMessage, c RelayCall) (int64, error) {
	var id int64
	err := s.InTx(ctx, func(tx *Tx) error {
		if err := tx.Enqueue(ctx, m); err != nil {
			return err
		}
		var options *string
		if c.Options != nil {
			o := string(c.Options)
			options = &o
		}
		// currval is this session's last outbox id: the row Enqueue just inserted.
		err := tx.tx.QueryRow(ctx, `
			INSERT INTO outbox_media (outbox_id, method, parse_mode, options, file_ref, file_name, content_type, file_data)
			VALUES (currval(pg_get_serial_sequence('outbox', 'id')), $1, $2, $3::jsonb, $4, $5, $6, $7)
			RETURNING outbox_id`,
			c.Method, c.ParseMode, options, c.File.Ref, c.File.Name, c.File.ContentType, c.File.Data).Scan(&id)
		if err != nil {
			return fmt.Errorf("store: enqueue relayed call: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// RelayCallOf returns how the relayed outbox row id goes out; ErrNotFound when the row is not
// a relayed one. The sender reads it at send time, not when it claims rows: a claimed row
// waits in memory, and files are up to 50 MB.
func (s *Store) RelayCallOf(ctx context.Context, id int64) (RelayCall, error) {
	var (
		c       RelayCall
		options *string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT method, parse_mode, options::text, file_ref, file_name, content_type, file_data
		FROM outbox_media WHERE outbox_id = $1`, id).
		Scan(&c.Method, &c.ParseMode, &options, &c.File.Ref, &c.File.Name, &c.File.ContentType, &c.File.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return RelayCall{}, ErrNotFound
	}
	if err != nil {
		return RelayCall{}, fmt.Errorf("store: relayed call: %w", err)
	}
	if options != nil {
		c.Options = []byte(*options)
	}
	return c, nil
}

// ChatByUsername returns the chat herald knows under @username (without the @, any case),
// ErrNotFound when it knows none: the relay resolves "@channel" chat ids only from what herald
// has seen, never by asking Telegram.
func (s *Store) ChatByUsername(ctx context.Context, username string) (Chat, error) {
	var c Chat
	err := s.pool.QueryRow(ctx, `
		SELECT id, type, title, username, is_forum FROM chats
		WHERE username <> '' AND lower(username) = lower($1)
		ORDER BY updated_at DESC LIMIT 1`, username).
		Scan(&c.ID, &c.Type, &c.Title, &c.Username, &c.IsForum)
	if errors.Is(err, pgx.ErrNoRows) {
		return Chat{}, ErrNotFound
	}
	if err != nil {
		return Chat{}, fmt.Errorf("store: chat by username: %w", err)
	}
	return c, nil
}
