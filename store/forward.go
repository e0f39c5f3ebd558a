package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Forward is one message waiting to be relayed to the forward: receiver.
type Forward struct {
	ID         int64
	DeliveryID string // the same on every attempt, for the receiver to de-duplicate
	UpdateID   int64
	Body       []byte // the exact JSON that is signed and sent
	CreatedAt  time.Time
	Attempts   int
	LastError  string
}

// EnqueueForward stores a message to relay, in the transaction that marks its update
// handled: a crash between the two can neither lose the relay nor store it twice (one row
// per update).
func (tx *Tx) EnqueueForward(ctx context.Context, updateID int64, body []byte, at time.Time) error {
	_, err := tx.tx.Exec(ctx, `
		INSERT INTO forward_queue (update_id, body, created_at, next_at) VALUES ($1, $2, $3, $3)
		ON CONFLICT (update_id) DO NOTHING`, updateID, body, at)
	if err != nil {
		return fmt.Errorf("store: enqueue forward: %w", err)
	}
	return nil
}

// DueForwards returns up to limit relays whose next attempt is due at now, oldest first, so
// the receiver sees messages in the order they were written while nothing fails.
func (s *Store) DueForwards(ctx context.Context, now time.Time, limit int) ([]Forward, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, delivery_id, update_id, body, created_at, attempts, last_error
		FROM forward_queue WHERE failed_at IS NULL AND next_at <= $1
		ORDER BY next_at, id LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("store: due forwards: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Forward, error) {
		var f Forward
		err := row.Scan(&f.ID, &f.DeliveryID, &f.UpdateID, &f.Body, &f.CreatedAt, &f.Attempts, &f.LastError)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: due forwards: %w", err)
	}
	return out, nil
}

// NextForward is when the earliest pending relay is due; found is false when none waits
// (given-up relays do not count): what tells whether the receiver is behind.
func (s *Store) NextForward(ctx context.Context) (at time.Time, found bool, err error) {
	var next *time.Time // min over no rows is NULL
	if err := s.pool.QueryRow(ctx, `SELECT min(next_at) FROM forward_queue WHERE failed_at IS NULL`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next forward: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return *next, true, nil
}

// ForwardDelivered removes a relay the receiver accepted: a delivered message has nothing
// left to keep.
func (s *Store) ForwardDelivered(ctx context.Context, id int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM forward_queue WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: forward delivered: %w", err)
	}
	return nil
}

// ForwardRetry records a failed attempt and when to try again. lastError must be safe to
// keep (no secret): it is what an admin reads when a relay is stuck.
func (s *Store) ForwardRetry(ctx context.Context, id int64, next time.Time, lastError string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE forward_queue SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE id = $1`,
		id, next, lastError)
	if err != nil {
		return fmt.Errorf("store: forward retry: %w", err)
	}
	return nil
}

// ForwardGiveUp stops retrying a relay the receiver refused for good; the row stays, with the
// reason, for an admin to look at.
func (s *Store) ForwardGiveUp(ctx context.Context, id int64, at time.Time, lastError string) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE forward_queue SET attempts = attempts + 1, failed_at = $2, last_error = $3 WHERE id = $1`,
		id, at, lastError)
	if err != nil {
		return fmt.Errorf("store: forward give up: %w", err)
	}
	return nil
}
