package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Update is a Telegram update as received, kept until handled.
type Update struct {
	ID      int64
	ChatID  int64  // 0 when the update has no chat
	Payload []byte // the update's JSON as Telegram sent it
}

// SaveUpdates stores received updates and the next getUpdates offset in one transaction.
// Only after it commits does herald acknowledge them to Telegram (by asking with the new
// offset), so a crash at any point loses none. A redelivered update is ignored.
func (s *Store) SaveUpdates(ctx context.Context, ups []Update, nextOffset int64) error {
	return s.InTx(ctx, func(tx *Tx) error {
		for _, u := range ups {
			if err := saveUpdate(ctx, tx.tx, u); err != nil {
				return err
			}
		}
		if nextOffset == 0 {
			return nil
		}
		_, err := tx.tx.Exec(ctx, `
			INSERT INTO telegram_offset (id, next_offset) VALUES (true, $1)
			ON CONFLICT (id) DO UPDATE SET next_offset = GREATEST(telegram_offset.next_offset, EXCLUDED.next_offset),
				updated_at = now()`, nextOffset)
		if err != nil {
			return fmt.Errorf("store: save offset: %w", err)
		}
		return nil
	})
}

// SaveUpdate stores one update (webhook mode, where Telegram has no offset).
func (s *Store) SaveUpdate(ctx context.Context, u Update) error { return saveUpdate(ctx, s.pool, u) }

func saveUpdate(ctx context.Context, q querier, u Update) error {
	_, err := q.Exec(ctx, `
		INSERT INTO updates (update_id, chat_id, payload) VALUES ($1, $2, $3)
		ON CONFLICT (update_id) DO NOTHING`, u.ID, u.ChatID, jsonbSafe(u.Payload))
	if err != nil {
		return fmt.Errorf("store: save update: %w", err)
	}
	return nil
}

// jsonbSafe replaces the escape \u0000 in a JSON text with \ufffd: jsonb refuses NUL, and
// an update that cannot be stored is never acknowledged, so Telegram would send it, and
// herald fail on it, forever. A backslash that is itself escaped ("\\u0000", the text
// \u0000) is left alone.
func jsonbSafe(payload []byte) []byte {
	const nul = `\u0000`
	if !bytes.Contains(payload, []byte(nul)) {
		return payload
	}
	out := make([]byte, 0, len(payload))
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if bytes.HasPrefix(payload[i:], []byte(nul)) {
			out = append(out, `\ufffd`...)
			i += len(nul) - 1
			continue
		}
		// Any other escape: copy it whole, so its second byte is not read as a start.
		out = append(out, c)
		if i+1 < len(payload) {
			i++
			out = append(out, payload[i])
		}
	}
	return out
}

// Offset is the next getUpdates offset; 0 before the first update.
func (s *Store) Offset(ctx context.Context) (int64, error) {
	var off int64
	err := s.pool.QueryRow(ctx, `SELECT next_offset FROM telegram_offset`).Scan(&off)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: offset: %w", err)
	}
	return off, nil
}

// PendingUpdates lists stored updates not yet handled that were received at least minAge
// ago, oldest first: after a restart these are handled before anything new, and later the
// intake picks up what it has not seen (minAge keeps it off updates on their way to it).
func (s *Store) PendingUpdates(ctx context.Context, minAge time.Duration, limit int) ([]Update, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT update_id, chat_id, payload FROM updates
		WHERE handled_at IS NULL AND received_at <= now() - make_interval(secs => $1)
		ORDER BY update_id LIMIT $2`, minAge.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending updates: %w", err)
	}
	return collectUpdates(rows, "pending updates")
}

// PendingChatUpdates lists one chat's unhandled updates, oldest first: the intake reads back
// those it had no room for in memory.
func (s *Store) PendingChatUpdates(ctx context.Context, chatID int64, limit int) ([]Update, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT update_id, chat_id, payload FROM updates
		WHERE handled_at IS NULL AND chat_id = $1 ORDER BY update_id LIMIT $2`, chatID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending chat updates: %w", err)
	}
	return collectUpdates(rows, "pending chat updates")
}

func collectUpdates(rows pgx.Rows, what string) ([]Update, error) {
	ups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Update, error) {
		var u Update
		err := r.Scan(&u.ID, &u.ChatID, &u.Payload)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return ups, nil
}

// ErrHandled means the update was handled already: whatever the caller produced for it
// must be dropped (roll the transaction back).
var ErrHandled = errors.New("store: update already handled")

// MarkHandled marks an update handled in the transaction that stores its replies. It locks
// the row, so two handlers of the same update cannot both commit.
func (tx *Tx) MarkHandled(ctx context.Context, updateID int64) error {
	tag, err := tx.tx.Exec(ctx, `UPDATE updates SET handled_at = now() WHERE update_id = $1 AND handled_at IS NULL`, updateID)
	if err != nil {
		return fmt.Errorf("store: mark handled: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrHandled
	}
	return nil
}

// IsHandled reports whether an update was handled.
func (s *Store) IsHandled(ctx context.Context, updateID int64) (bool, error) {
	var handled bool
	err := s.pool.QueryRow(ctx, `SELECT handled_at IS NOT NULL FROM updates WHERE update_id = $1`, updateID).Scan(&handled)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: is handled: %w", err)
	}
	return handled, nil
}

// PruneUpdates forgets handled updates older than maxAge; Telegram never resends those.
func (s *Store) PruneUpdates(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM updates WHERE handled_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune updates: %w", err)
	}
	return tag.RowsAffected(), nil
}
