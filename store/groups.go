package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivered is one message Telegram accepted and the outbox rows it carried: one row, or
// several the sender made one message of (a group).
type Delivered struct {
	Rows      []Queued
	MessageID int // the message sent or edited; 0 when unknown or nothing was sent
	// Card: MessageID opened the live build card of Rows[0] (see OutMessage.CardKey).
	Card   bool
	SentAt time.Time // when Telegram answered; zero: nothing went to Telegram
	// Group, when set, is saved as the chat's open group of its key: the message the
	// rows became and what it shows, for the next row of the group to edit.
	Group *Group
}

// Group is the message a group of outbox rows became (see OutMessage.GroupKey).
type Group struct {
	ChatID, ThreadID int64
	Key              string
	MessageID        int
	OpenedAt         time.Time // when the message was first sent
	UpdatedAt        time.Time // when it was last sent or edited: the window counts from there
	Members          []byte    // the sender's JSON of what the message shows
	// Silent: the message went out without sound. An edit never notifies, so a loud row
	// does not join it by an edit.
	Silent bool
	// ReplyTo is the message the group's message answers, 0 for none: a row answering
	// another one does not join it by an edit.
	ReplyTo int
}

// AckDelivered records a delivery in one transaction: the rows are deleted, the send is
// logged, and what later rows depend on is kept: the card the message opened, the anchor a
// problem's recovery will answer (and the answered anchor dropped), the group it is part of.
func (s *Store) AckDelivered(ctx context.Context, d Delivered) error {
	return s.InTx(ctx, func(tx *Tx) error {
		ids := make([]int64, len(d.Rows))
		for i, q := range d.Rows {
			ids[i] = q.ID
		}
		if _, err := tx.tx.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("store: ack sent: %w", err)
		}
		if len(d.Rows) == 0 {
			return nil
		}
		first := d.Rows[0]
		if !d.SentAt.IsZero() {
			if _, err := tx.tx.Exec(ctx, `INSERT INTO sent_log (chat_id, sent_at) VALUES ($1, $2)`, first.ChatID, d.SentAt); err != nil {
				return fmt.Errorf("store: ack sent: log the send: %w", err)
			}
		}
		if d.Card && first.CardKey != "" && d.MessageID > 0 {
			_, err := tx.tx.Exec(ctx, `
				INSERT INTO build_cards (chat_id, thread_id, card_key, message_id) VALUES ($1, $2, $3, $4)
				ON CONFLICT (chat_id, thread_id, card_key) DO UPDATE SET message_id = excluded.message_id`,
				first.ChatID, first.ThreadID, first.CardKey, d.MessageID)
			if err != nil {
				return fmt.Errorf("store: save build card: %w", err)
			}
		}
		for _, q := range d.Rows {
			if q.ReplyToKey != "" {
				if _, err := tx.tx.Exec(ctx, `DELETE FROM reply_anchors WHERE chat_id = $1 AND thread_id = $2 AND anchor_key = $3`,
					q.ChatID, q.ThreadID, q.ReplyToKey); err != nil {
					return fmt.Errorf("store: ack sent: drop the answered anchor: %w", err)
				}
			}
			if q.AnchorKey != "" && d.MessageID > 0 && !d.SentAt.IsZero() {
				_, err := tx.tx.Exec(ctx, `
					INSERT INTO reply_anchors (chat_id, thread_id, anchor_key, message_id) VALUES ($1, $2, $3, $4)
					ON CONFLICT (chat_id, thread_id, anchor_key) DO UPDATE SET message_id = excluded.message_id, created_at = now()`,
					q.ChatID, q.ThreadID, q.AnchorKey, d.MessageID)
				if err != nil {
					return fmt.Errorf("store: ack sent: save the reply anchor: %w", err)
				}
			}
		}
		if g := d.Group; g != nil {
			_, err := tx.tx.Exec(ctx, `
				INSERT INTO message_groups (chat_id, thread_id, group_key, message_id, opened_at, updated_at, members, silent, reply_to)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (chat_id, thread_id, group_key) DO UPDATE
					SET message_id = excluded.message_id, opened_at = excluded.opened_at, updated_at = excluded.updated_at,
						members = excluded.members, silent = excluded.silent, reply_to = excluded.reply_to`,
				g.ChatID, g.ThreadID, g.Key, g.MessageID, g.OpenedAt, g.UpdatedAt, string(g.Members), g.Silent, g.ReplyTo)
			if err != nil {
				return fmt.Errorf("store: ack sent: save the message group: %w", err)
			}
		}
		return nil
	})
}

// MessageGroup returns a chat's group of key, ErrNotFound when it has none.
func (s *Store) MessageGroup(ctx context.Context, chatID, threadID int64, key string) (Group, error) {
	g := Group{ChatID: chatID, ThreadID: threadID, Key: key}
	var (
		id, reply int32
		members   string
	)
	err := s.pool.QueryRow(ctx, `
		SELECT message_id, opened_at, updated_at, members::text, silent, reply_to FROM message_groups WHERE chat_id = $1 AND thread_id = $2 AND group_key = $3`,
		chatID, threadID, key).Scan(&id, &g.OpenedAt, &g.UpdatedAt, &members, &g.Silent, &reply)
	if errors.Is(err, pgx.ErrNoRows) {
		return Group{}, ErrNotFound
	}
	if err != nil {
		return Group{}, fmt.Errorf("store: message group: %w", err)
	}
	g.MessageID, g.Members, g.ReplyTo = int(id), []byte(members), int(reply)
	return g, nil
}

// GroupOvertaken says whether another group of the chat's topic was sent or edited after
// g was: g's message is then no longer the topic's latest word, and editing it would put
// news above what was said since (a builder "broke" above its own "recovered").
func (s *Store) GroupOvertaken(ctx context.Context, g Group) (bool, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM message_groups WHERE chat_id = $1 AND thread_id = $2 AND group_key <> $3 AND updated_at > $4`,
		g.ChatID, g.ThreadID, g.Key, g.UpdatedAt).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: group overtaken: %w", err)
	}
	return n > 0, nil
}

// ForgetGroup drops a group whose message can no longer be edited.
func (s *Store) ForgetGroup(ctx context.Context, chatID, threadID int64, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM message_groups WHERE chat_id = $1 AND thread_id = $2 AND group_key = $3`, chatID, threadID, key)
	if err != nil {
		return fmt.Errorf("store: forget message group: %w", err)
	}
	return nil
}

// ReplyAnchor returns the message a reply to key answers in a chat, ErrNotFound for none.
func (s *Store) ReplyAnchor(ctx context.Context, chatID, threadID int64, key string) (int, error) {
	var id int32
	err := s.pool.QueryRow(ctx, `SELECT message_id FROM reply_anchors WHERE chat_id = $1 AND thread_id = $2 AND anchor_key = $3`,
		chatID, threadID, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: reply anchor: %w", err)
	}
	return int(id), nil
}

// PruneGroups deletes groups opened before before (their windows closed long ago) and
// anchors made before anchorsBefore (a breakage nobody fixed for that long is answered by
// a plain message).
func (s *Store) PruneGroups(ctx context.Context, before, anchorsBefore time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM message_groups WHERE opened_at < $1`, before); err != nil {
		return fmt.Errorf("store: prune message groups: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM reply_anchors WHERE created_at < $1`, anchorsBefore); err != nil {
		return fmt.Errorf("store: prune reply anchors: %w", err)
	}
	return nil
}
