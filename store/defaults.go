package store

import (
	"context"
	"fmt"
)

// DefaultChat is a chat the config subscribes, like Buildbot's chat_ids with notify_events.
type DefaultChat struct {
	ChatID, ThreadID int64
	Events           []string
	Builders         []string
	Branches         []string
}

// SeedDefaults subscribes the config's default chats, each (chat, thread) once in the life
// of the database. Buildbot re-adds its chat_ids on every start, undoing a chat's /notify
// off; here a seeded chat is remembered and never seeded again, and a chat that already has
// a subscription of its own keeps it.
func (s *Store) SeedDefaults(ctx context.Context, defs []DefaultChat) error {
	return s.InTx(ctx, func(tx *Tx) error {
		for _, d := range defs {
			tag, err := tx.tx.Exec(ctx, `INSERT INTO seeded_defaults (chat_id, thread_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				d.ChatID, d.ThreadID)
			if err != nil {
				return fmt.Errorf("store: seed default chat: %w", err)
			}
			if tag.RowsAffected() == 0 {
				continue
			}
			if _, err := tx.tx.Exec(ctx, `INSERT INTO chats (id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				d.ChatID, guessChatType(d.ChatID)); err != nil {
				return fmt.Errorf("store: seed default chat: %w", err)
			}
			_, err = tx.tx.Exec(ctx, `
				INSERT INTO subscriptions (chat_id, thread_id, events, builders, branches) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT DO NOTHING`, d.ChatID, d.ThreadID, seedArray(d.Events), seedArray(d.Builders), seedArray(d.Branches))
			if err != nil {
				return fmt.Errorf("store: seed default subscription: %w", err)
			}
		}
		return nil
	})
}

// seedArray keeps Postgres arrays '{}' rather than NULL, which the NOT NULL columns refuse.
func seedArray(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
