package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// callbackKeyBytes makes keys of 16 base64url characters: far below Telegram's 64-byte limit
// on callback data and too many to guess.
const callbackKeyBytes = 12

// PutCallback stores the payload of an inline button and returns the short key to put in
// the button's callback_data.
func (tx *Tx) PutCallback(ctx context.Context, chatID int64, data string) (string, error) {
	return putCallback(ctx, tx.tx, chatID, data)
}

// PutCallback is Tx.PutCallback in its own transaction.
func (s *Store) PutCallback(ctx context.Context, chatID int64, data string) (string, error) {
	return putCallback(ctx, s.pool, chatID, data)
}

func putCallback(ctx context.Context, q querier, chatID int64, data string) (string, error) {
	b := make([]byte, callbackKeyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: callback key: %w", err)
	}
	key := base64.RawURLEncoding.EncodeToString(b)
	_, err := q.Exec(ctx, `INSERT INTO callbacks (key, chat_id, data) VALUES ($1, $2, $3)`, key, chatID, data)
	if err != nil {
		return "", fmt.Errorf("store: put callback: %w", err)
	}
	return key, nil
}

// Callback returns the payload stored for key, which must belong to chatID: a key seen in
// another chat is treated as unknown. ErrNotFound when it is unknown or pruned.
func (s *Store) Callback(ctx context.Context, chatID int64, key string) (string, error) {
	var data string
	err := s.pool.QueryRow(ctx, `SELECT data FROM callbacks WHERE key = $1 AND chat_id = $2`, key, chatID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: callback: %w", err)
	}
	return data, nil
}

// PruneCallbacks deletes payloads older than maxAge; their buttons then answer as stale.
func (s *Store) PruneCallbacks(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM callbacks WHERE created_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune callbacks: %w", err)
	}
	return tag.RowsAffected(), nil
}
