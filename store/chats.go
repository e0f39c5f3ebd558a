package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Chat is a Telegram chat herald has seen.
type Chat struct {
	ID       int64
	Type     string // private | group | supergroup | channel
	Title    string
	Username string
	IsForum  bool
}

// SaveChat records a chat, or refreshes its title and type. It runs for every update, so the
// chat list stays true without a separate registration step.
func (s *Store) SaveChat(ctx context.Context, c Chat) error { return saveChat(ctx, s.pool, c) }

func saveChat(ctx context.Context, q querier, c Chat) error {
	_, err := q.Exec(ctx, `
		INSERT INTO chats (id, type, title, username, is_forum)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET
			type = EXCLUDED.type, title = EXCLUDED.title, username = EXCLUDED.username,
			is_forum = EXCLUDED.is_forum, updated_at = now()
		WHERE (chats.type, chats.title, chats.username, chats.is_forum)
		   IS DISTINCT FROM (EXCLUDED.type, EXCLUDED.title, EXCLUDED.username, EXCLUDED.is_forum)`,
		c.ID, c.Type, c.Title, c.Username, c.IsForum)
	if err != nil {
		return fmt.Errorf("store: save chat: %w", err)
	}
	return nil
}

// SaveTopic records a forum topic herald has seen; name may be empty (Telegram names a topic
// only in the message that creates it) and never erases a known name.
func (s *Store) SaveTopic(ctx context.Context, chatID, threadID int64, name string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO forum_topics (chat_id, thread_id, name) VALUES ($1, $2, $3)
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET name = EXCLUDED.name
		WHERE EXCLUDED.name <> '' AND forum_topics.name <> EXCLUDED.name`, chatID, threadID, name)
	if err != nil {
		return fmt.Errorf("store: save topic: %w", err)
	}
	return nil
}

// ChatByID returns a chat; ErrNotFound when herald has never seen it.
func (s *Store) ChatByID(ctx context.Context, id int64) (Chat, error) {
	var c Chat
	err := s.pool.QueryRow(ctx, `SELECT id, type, title, username, is_forum FROM chats WHERE id = $1`, id).
		Scan(&c.ID, &c.Type, &c.Title, &c.Username, &c.IsForum)
	if errors.Is(err, pgx.ErrNoRows) {
		return Chat{}, ErrNotFound
	}
	if err != nil {
		return Chat{}, fmt.Errorf("store: chat: %w", err)
	}
	return c, nil
}

// ChatStyle is how a chat wants notifications: cards (a build's start message edited into
// its result) and loud successes (successes with sound).
func (s *Store) ChatStyle(ctx context.Context, chatID int64) (cards, loudSuccess bool, err error) {
	var mode string
	err = s.pool.QueryRow(ctx, `SELECT card_mode, loud_success FROM chats WHERE id = $1`, chatID).Scan(&mode, &loudSuccess)
	if errors.Is(err, pgx.ErrNoRows) {
		return true, false, nil // the defaults of a chat not yet seen
	}
	if err != nil {
		return false, false, fmt.Errorf("store: chat style: %w", err)
	}
	return mode == "edit", loudSuccess, nil
}

// SetChatStyle stores how a chat wants notifications; the chat must exist.
func (s *Store) SetChatStyle(ctx context.Context, chatID int64, cards, loudSuccess bool) error {
	mode := "new"
	if cards {
		mode = "edit"
	}
	tag, err := s.pool.Exec(ctx, `UPDATE chats SET card_mode = $2, loud_success = $3, updated_at = now() WHERE id = $1`, chatID, mode, loudSuccess)
	if err != nil {
		return fmt.Errorf("store: set chat style: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: set chat style of %d: %w", chatID, ErrNotFound)
	}
	return nil
}
