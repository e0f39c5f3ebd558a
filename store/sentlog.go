package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Send is one message Telegram accepted, from the send log AckSent writes.
type Send struct {
	ChatID int64
	At     time.Time // when Telegram answered, by the sender's clock
}

// RecentSends lists the sends acknowledged after since, oldest first. A starting sender seeds
// its rate limiter with them: Telegram remembers what the previous process sent in the last
// second and minute, so the new one must too.
func (s *Store) RecentSends(ctx context.Context, since time.Time) ([]Send, error) {
	rows, err := s.pool.Query(ctx, `SELECT chat_id, sent_at FROM sent_log WHERE sent_at > $1 ORDER BY sent_at`, since)
	if err != nil {
		return nil, fmt.Errorf("store: recent sends: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Send, error) {
		var s Send
		err := r.Scan(&s.ChatID, &s.At)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: recent sends: %w", err)
	}
	return out, nil
}

// PruneSentLog deletes sends acknowledged before before; the sender keeps the last minute,
// the longest window Telegram counts.
func (s *Store) PruneSentLog(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sent_log WHERE sent_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("store: prune send log: %w", err)
	}
	return tag.RowsAffected(), nil
}
