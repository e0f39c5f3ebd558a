package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ResolvedChatUsername returns the chat id a config @username was resolved to earlier (found false
// when it never was). The name is compared without the @ and case: Telegram usernames are
// case-insensitive.
func (s *Store) ResolvedChatUsername(ctx context.Context, username string) (chatID int64, found bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT chat_id FROM chat_usernames WHERE username = $1`, usernameKey(username)).Scan(&chatID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: chat by username: %w", err)
	}
	return chatID, true, nil
}

// SaveResolvedChatUsername records what getChat said a config @username is, and makes the chat known
// with its real type and title (a channel is not the "group" a bare negative id is taken for).
func (s *Store) SaveResolvedChatUsername(ctx context.Context, username string, chatID int64, chatType, title string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, `
			INSERT INTO chat_usernames (username, chat_id) VALUES ($1, $2)
			ON CONFLICT (username) DO UPDATE SET chat_id = EXCLUDED.chat_id, resolved_at = now()`,
			usernameKey(username), chatID); err != nil {
			return fmt.Errorf("store: save chat username: %w", err)
		}
		if _, err := tx.tx.Exec(ctx, `
			INSERT INTO chats (id, type, title, username) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, chatID, chatType, title, strings.TrimPrefix(username, "@")); err != nil {
			return fmt.Errorf("store: save chat username: %w", err)
		}
		return nil
	})
}

func usernameKey(username string) string { return strings.ToLower(strings.TrimPrefix(username, "@")) }
