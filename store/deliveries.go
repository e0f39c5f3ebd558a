package store

import (
	"context"
	"fmt"
	"time"
)

// DeliverySeen reports whether the CI webhook delivery id of conn was recorded.
func (s *Store) DeliverySeen(ctx context.Context, conn, id string) (bool, error) {
	var seen bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ci_deliveries WHERE conn = $1 AND delivery_id = $2)`, conn, id).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("store: read delivery: %w", err)
	}
	return seen, nil
}

// RecordDelivery records a CI webhook delivery id of conn once its events are stored. Two
// copies of one delivery may arrive at once (a CI retrying a slow answer); the second record
// is no error.
func (s *Store) RecordDelivery(ctx context.Context, conn, id string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO ci_deliveries (conn, delivery_id) VALUES ($1, $2)
		ON CONFLICT (conn, delivery_id) DO NOTHING`, conn, id)
	if err != nil {
		return fmt.Errorf("store: record delivery: %w", err)
	}
	return nil
}

// PruneDeliveries forgets delivery ids older than maxAge: a CI redelivers within days, and
// an event redelivered after that is still stored only once (by its key).
func (s *Store) PruneDeliveries(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM ci_deliveries WHERE received_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}
