package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxChannel is the Postgres NOTIFY channel Enqueue signals on; the sender LISTENs to it so
// it wakes within milliseconds of a commit instead of polling.
const OutboxChannel = "herald_outbox"

// OutMessage is one message waiting to go to Telegram.
type OutMessage struct {
	ChatID, ThreadID int64
	Text             string // Telegram HTML, already escaped
	ReplyMarkup      []byte // JSON inline keyboard ({"inline_keyboard":[...]}) or nil
	Silent           bool   // disable_notification
	EditMessageID    int    // > 0: editMessageText of that message instead of sending
	// CardKey names a live build card (e.g. "conn/build/42"). When the chat already has a
	// card with this key the sender edits that message; otherwise it sends a new one and
	// remembers it as the card. The card's message id is only known once Telegram accepted
	// the first message, so it is resolved at send time, never at enqueue time.
	CardKey string
	// CardOnly, with CardKey, edits the card when it exists and drops the message when it
	// does not: used to bring a "started" card up to date when the result itself goes out
	// as a separate notifying message (problem, recovery).
	CardOnly bool
	UpdateID int64 // the update this answers, 0 for notifications (for tracing)
	// Priority orders what the sender dispatches first (PriorityInteractive, PriorityProblem,
	// PriorityNormal). A row with an UpdateID is interactive whatever its Priority.
	Priority int16
	// GroupKey, when set, lets the sender make this row and the chat's later rows with the
	// same key (and topic) one message while notifications.group_window is open; GroupItem
	// is the notifier's JSON for it (the row's one-line rendering, what a headline needs).
	// A row without a key goes out on its own, as Text says.
	GroupKey  string
	GroupItem string
	// AnchorKey: once sent, this message is the one a later row's ReplyToKey answers (a
	// chat's problem message for a builder and branch). ReplyToKey: send this as a reply to
	// the anchor of that key, if the chat has one (a recovery).
	AnchorKey, ReplyToKey string
}

// Priorities of outbox rows, highest first.
const (
	PriorityNormal      int16 = 0
	PriorityProblem     int16 = 1
	PriorityInteractive int16 = 2
)

// Interactive reports whether the row answers a person (a command's reply, a keyboard
// edit): it goes ahead of every notification.
func (m OutMessage) Interactive() bool { return m.UpdateID != 0 || m.Priority >= PriorityInteractive }

// Queued is an outbox row the sender holds.
type Queued struct {
	ID int64
	OutMessage
	Relayed   bool // a relayed Bot API call: it goes out as RelayCallOf says (outbox_media.go)
	Attempts  int
	CreatedAt time.Time
}

// Enqueue adds messages to the outbox in the caller's transaction. Postgres delivers the
// NOTIFY only when the transaction commits, so the sender never sees a message that may
// still roll back.
func (tx *Tx) Enqueue(ctx context.Context, msgs ...OutMessage) error {
	return enqueue(ctx, tx.tx, msgs, true)
}

// EnqueueQuiet is Enqueue without the NOTIFY, for a caller that wakes the sender itself
// after its commit (the notifier, in the sender's process). Postgres serialises the commits
// of notifying transactions, flush to disk included, so the event hot path must not notify:
// with it, intake stops at one event per fsync.
func (tx *Tx) EnqueueQuiet(ctx context.Context, msgs ...OutMessage) error {
	return enqueue(ctx, tx.tx, msgs, false)
}

// Enqueue is Tx.Enqueue in its own transaction.
func (s *Store) Enqueue(ctx context.Context, msgs ...OutMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	return s.InTx(ctx, func(tx *Tx) error { return tx.Enqueue(ctx, msgs...) })
}

func enqueue(ctx context.Context, q querier, msgs []OutMessage, notify bool) error {
	if len(msgs) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, enqueueSQL, enqueueArgs(msgs)...); err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	if !notify {
		return nil
	}
	if _, err := q.Exec(ctx, notifySQL, OutboxChannel); err != nil {
		return fmt.Errorf("store: enqueue: notify: %w", err)
	}
	return nil
}

// enqueueSQL inserts any number of rows in one statement: an event to 3,000 chats is one
// round trip. The arguments are enqueueArgs.
const enqueueSQL = `
	INSERT INTO outbox (chat_id, thread_id, text, reply_markup, silent, edit_message_id, card_key, card_only, update_id,
		priority, group_key, group_item, anchor_key, reply_to_key)
	SELECT c, t, x, m, s, e, k, o, u, p, g, gi, a, rt
	FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::integer[], $7::text[], $8::boolean[], $9::bigint[],
		$10::smallint[], $11::text[], $12::text[], $13::text[], $14::text[])
		WITH ORDINALITY AS r (c, t, x, m, s, e, k, o, u, p, g, gi, a, rt, n)
	ORDER BY n`

const notifySQL = `SELECT pg_notify($1, '')`

func enqueueArgs(msgs []OutMessage) []any {
	n := len(msgs)
	var (
		chat, thread, update = make([]int64, n), make([]int64, n), make([]int64, n)
		text, cardKey        = make([]string, n), make([]string, n)
		markup               = make([]*string, n)
		silent, cardOnly     = make([]bool, n), make([]bool, n)
		edit                 = make([]int32, n)
		prio                 = make([]int16, n)
		group, item          = make([]string, n), make([]string, n)
		anchor, replyTo      = make([]string, n), make([]string, n)
	)
	for i, m := range msgs {
		chat[i], thread[i], update[i] = m.ChatID, m.ThreadID, m.UpdateID
		text[i], cardKey[i] = m.Text, m.CardKey
		silent[i], cardOnly[i] = m.Silent, m.CardOnly
		edit[i] = int32(m.EditMessageID)
		prio[i], group[i], item[i], anchor[i], replyTo[i] = m.Priority, m.GroupKey, m.GroupItem, m.AnchorKey, m.ReplyToKey
		if m.ReplyMarkup != nil {
			s := string(m.ReplyMarkup)
			markup[i] = &s
		}
	}
	return []any{chat, thread, text, markup, silent, edit, cardKey, cardOnly, update, prio, group, item, anchor, replyTo}
}

// AckSent deletes a row Telegram accepted. When the message opened a live build card
// (CardKey set and a new message was sent), cardMessageID records it for later edits.
// sentAt, when Telegram answered, goes to the send log (see RecentSends) in the same
// transaction; the zero time means nothing went to Telegram (a dropped card edit).
func (s *Store) AckSent(ctx context.Context, q Queued, cardMessageID int, sentAt time.Time) error {
	return s.AckDelivered(ctx, Delivered{Rows: []Queued{q}, MessageID: cardMessageID, Card: cardMessageID > 0, SentAt: sentAt})
}

// CardMessage returns the Telegram message id of a live build card, ErrNotFound when the
// chat has none with that key.
func (s *Store) CardMessage(ctx context.Context, chatID, threadID int64, key string) (int, error) {
	var id int32
	err := s.pool.QueryRow(ctx, `SELECT message_id FROM build_cards WHERE chat_id = $1 AND thread_id = $2 AND card_key = $3`,
		chatID, threadID, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: build card: %w", err)
	}
	return int(id), nil
}

// ForgetCard drops a card whose message can no longer be edited (deleted by a user, too old).
func (s *Store) ForgetCard(ctx context.Context, chatID, threadID int64, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM build_cards WHERE chat_id = $1 AND thread_id = $2 AND card_key = $3`, chatID, threadID, key)
	if err != nil {
		return fmt.Errorf("store: forget build card: %w", err)
	}
	return nil
}

// PruneCards deletes cards older than maxAge: their builds finished long ago.
func (s *Store) PruneCards(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM build_cards WHERE created_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune build cards: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RecordAttempt notes a failed, retryable attempt; the row stays queued.
func (s *Store) RecordAttempt(ctx context.Context, id int64, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, id, reason)
	if err != nil {
		return fmt.Errorf("store: record send attempt: %w", err)
	}
	return nil
}

// FailOutbox moves a message Telegram refused for good to outbox_failed.
func (s *Store) FailOutbox(ctx context.Context, id int64, reason string) error {
	_, err := s.pool.Exec(ctx, `
		WITH gone AS (DELETE FROM outbox WHERE id = $1 RETURNING id, chat_id, thread_id, text, update_id, attempts, created_at)
		INSERT INTO outbox_failed (id, chat_id, thread_id, text, update_id, attempts, error, created_at)
		SELECT id, chat_id, thread_id, `+failedText+`, update_id, attempts + 1, $2, created_at FROM gone
		ON CONFLICT (id) DO NOTHING`, id, reason)
	if err != nil {
		return fmt.Errorf("store: fail outbox message: %w", err)
	}
	return nil
}

// FailedMessage is a message Telegram refused for good.
type FailedMessage struct {
	ID, ChatID, ThreadID int64
	Text, Error          string
	FailedAt             time.Time
}

// FailedMessages lists a chat's refused messages, newest first: the diagnostic an admin sees.
func (s *Store) FailedMessages(ctx context.Context, chatID int64, limit int) ([]FailedMessage, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, chat_id, thread_id, text, error, failed_at FROM outbox_failed
		WHERE chat_id = $1 ORDER BY failed_at DESC, id DESC LIMIT $2`, chatID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: failed messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailedMessage, error) {
		var f FailedMessage
		err := r.Scan(&f.ID, &f.ChatID, &f.ThreadID, &f.Text, &f.Error, &f.FailedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: failed messages: %w", err)
	}
	return out, nil
}

// OutboxDepth counts the messages not yet accepted by Telegram.
func (s *Store) OutboxDepth(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", err)
	}
	return n, nil
}

// ListenOutbox calls wake whenever an Enqueue commits, until ctx ends. It holds one pool
// connection; when that connection breaks it reconnects and calls wake once, since a
// notification may have been missed meanwhile. It returns ctx's error.
func (s *Store) ListenOutbox(ctx context.Context, ready, wake func()) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.listenOnce(ctx, ready, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the caller sees the effect (a wake); the error is only a dropped connection
		wake()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, ready, wake func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	// A connection that LISTENs must not go back to the pool still listening.
	defer conn.Release()
	defer func() { _, _ = conn.Exec(context.Background(), `UNLISTEN *`) }()
	if _, err := conn.Exec(ctx, `LISTEN `+OutboxChannel); err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	if ready != nil {
		ready()
	}
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return fmt.Errorf("store: wait for notification: %w", err)
		}
		wake()
	}
}
