package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// callbackKeyBytes makes keys of 16 base64url characters: far below Telegram's 64-byte limit
// on callback data and too many to guess.
const callbackKeyBytes = 12

// PutCallbacks stores the payloads of many inline buttons, data[i] for the chat chatIDs[i],
// in one statement, and returns their keys in the same order. A failure fanned out to
// thousands of chats puts a button under each message: one round trip for all of them, not
// one per chat inside the event's transaction.
func (tx *Tx) PutCallbacks(ctx context.Context, chatIDs []int64, data []string) ([]string, error) {
	return putCallbacks(ctx, tx.tx, chatIDs, data)
}

// PutCallbacks is Tx.PutCallbacks in its own transaction (one statement).
func (s *Store) PutCallbacks(ctx context.Context, chatIDs []int64, data []string) ([]string, error) {
	return putCallbacks(ctx, s.pool, chatIDs, data)
}

func putCallbacks(ctx context.Context, q querier, chatIDs []int64, data []string) ([]string, error) {
	if len(chatIDs) != len(data) {
		return nil, fmt.Errorf("store: put callbacks: %d chats for %d payloads", len(chatIDs), len(data))
	}
	if len(data) == 0 {
		return nil, nil
	}
	raw := make([]byte, callbackKeyBytes*len(data))
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("store: callback key: %w", err)
	}
	keys := make([]string, len(data))
	for i := range keys {
		keys[i] = base64.RawURLEncoding.EncodeToString(raw[i*callbackKeyBytes : (i+1)*callbackKeyBytes])
	}
	_, err := q.Exec(ctx, `
		INSERT INTO callbacks (key, chat_id, data)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])`, keys, chatIDs, data)
	if err != nil {
		return nil, fmt.Errorf("store: put callbacks: %w", err)
	}
	return keys, nil
}

// Callback returns the payload stored for key, which must belong to chatID: a key seen in
// another chat is treated as unknown, and so is the key of a claim (ClaimButton), which no
// button carries. ErrNotFound when it is unknown or pruned.
func (s *Store) Callback(ctx context.Context, chatID int64, key string) (string, error) {
	if strings.HasPrefix(key, claimKeyPrefix) {
		return "", ErrNotFound
	}
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

// claimKeyPrefix marks the rows ClaimButton writes beside the buttons' own: random keys are
// base64url and never hold a colon.
const claimKeyPrefix = "claim:"

// claimKey is the one key of the claim of payload data in chatID, so claiming twice
// conflicts on the primary key.
func claimKey(chatID int64, data string) string {
	sum := sha256.Sum256([]byte(strconv.FormatInt(chatID, 10) + "\x00" + data))
	return claimKeyPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// ClaimButton makes the buttons with payload data in chatID one-shot: the first call returns
// true, every later one (a second press of the button, or of the same button on another
// message of the chat, before or after a restart) false, until ReleaseButton. Two presses at
// once are decided by the primary key: one of them wins. The claim is a row of its own
// beside the buttons' payloads and is pruned with them (PruneCallbacks); it is younger than
// the buttons it claims, so it outlives them.
func (s *Store) ClaimButton(ctx context.Context, chatID int64, data string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO callbacks (key, chat_id, data) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`,
		claimKey(chatID, data), chatID, data)
	if err != nil {
		return false, fmt.Errorf("store: claim button: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseButton undoes ClaimButton, so the button works again: what it started failed
// before anything happened.
func (s *Store) ReleaseButton(ctx context.Context, chatID int64, data string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM callbacks WHERE key = $1`, claimKey(chatID, data)); err != nil {
		return fmt.Errorf("store: release button: %w", err)
	}
	return nil
}

// PruneCallbacks deletes payloads older than maxAge; their buttons then answer as stale.
func (s *Store) PruneCallbacks(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM callbacks WHERE created_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune callbacks: %w", err)
	}
	return tag.RowsAffected(), nil
}
