package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
)

// Subscription is what one chat, or one forum topic of it (ThreadID != 0), wants to hear
// about. Builders and Branches are glob patterns; empty means every one.
type Subscription struct {
	ChatID    int64
	ThreadID  int64
	Events    []ci.Kind
	Builders  []string
	Branches  []string
	Tags      []string // builder tags (/notify tag=NAME); empty means every builder
	UpdatedAt time.Time
}

// NotifySettings returns the /notify settings of a chat or topic. A chat that never set any
// has none: every slice empty and no error. The signature uses plain types so that package
// commands can name it in an interface without importing store.
func (s *Store) NotifySettings(ctx context.Context, chatID, threadID int64) (events, builders, branches []string, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT events, builders, branches FROM subscriptions WHERE chat_id = $1 AND thread_id = $2`,
		chatID, threadID).Scan(&events, &builders, &branches)
	if errors.Is(err, pgx.ErrNoRows) {
		return []string{}, []string{}, []string{}, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: notify settings: %w", err)
	}
	return events, builders, branches, nil
}

// SetNotifySettings replaces the /notify settings of a chat or topic. The chat must be known
// (the transport registers every chat it hears from).
func (s *Store) SetNotifySettings(ctx context.Context, chatID, threadID int64, events, builders, branches []string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO subscriptions (chat_id, thread_id, events, builders, branches, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (chat_id, thread_id) DO UPDATE
		SET events = EXCLUDED.events, builders = EXCLUDED.builders, branches = EXCLUDED.branches,
		    updated_at = now()`,
		chatID, threadID, textArray(events), textArray(builders), textArray(branches))
	if err != nil {
		return fmt.Errorf("store: set notify settings: %w", err)
	}
	return nil
}

// NotifyTags returns the tags a chat's or topic's subscription is limited to (/notify
// tag=NAME); none means every builder, also for a chat that never set any.
func (s *Store) NotifyTags(ctx context.Context, chatID, threadID int64) ([]string, error) {
	var tags []string
	err := s.pool.QueryRow(ctx, `SELECT tags FROM subscriptions WHERE chat_id = $1 AND thread_id = $2`,
		chatID, threadID).Scan(&tags)
	if errors.Is(err, pgx.ErrNoRows) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: notify tags: %w", err)
	}
	return tags, nil
}

// SetNotifyTags replaces the tags of a chat's or topic's subscription, making the
// subscription (with no events) when there is none. Kept apart from SetNotifySettings, whose
// callers need not know of tags: it leaves them as they are.
func (s *Store) SetNotifyTags(ctx context.Context, chatID, threadID int64, tags []string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO subscriptions (chat_id, thread_id, events, builders, branches, tags, updated_at)
		VALUES ($1, $2, '{}', '{}', '{}', $3, now())
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET tags = EXCLUDED.tags, updated_at = now()`,
		chatID, threadID, textArray(tags))
	if err != nil {
		return fmt.Errorf("store: set notify tags: %w", err)
	}
	return nil
}

// ListSubscriptions returns every subscription that has at least one event on, ordered by
// chat and topic.
func (s *Store) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT chat_id, thread_id, events, builders, branches, tags, updated_at
		FROM subscriptions WHERE cardinality(events) > 0 ORDER BY chat_id, thread_id`)
	if err != nil {
		return nil, fmt.Errorf("store: list subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Subscription, error) {
		var sub Subscription
		var events []string
		err := row.Scan(&sub.ChatID, &sub.ThreadID, &events, &sub.Builders, &sub.Branches, &sub.Tags, &sub.UpdatedAt)
		for _, e := range events {
			sub.Events = append(sub.Events, ci.Kind(e))
		}
		return sub, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list subscriptions: %w", err)
	}
	return out, nil
}

// textArray turns nil into an empty slice: the columns are NOT NULL.
func textArray(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
