package store

import (
	"context"
	"fmt"
)

// Notify sends a Postgres notification on channel now, outside any transaction: for a
// process that committed outbox rows quietly (EnqueueQuiet) while the sender runs in
// another replica, which would otherwise find them only at its next poll.
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if _, err := s.pool.Exec(ctx, notifySQLPayload, channel, payload); err != nil {
		return fmt.Errorf("store: notify %s: %w", channel, err)
	}
	return nil
}

const notifySQLPayload = `SELECT pg_notify($1, $2)`
