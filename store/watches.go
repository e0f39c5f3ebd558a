package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Watch is a chat (or topic) waiting for one running build's finished message.
type Watch struct {
	ChatID    int64
	ThreadID  int64
	Conn      string
	BuildID   string
	Builder   string
	UserID    int64
	CreatedAt time.Time
}

// AddWatch makes a chat watch a running build. Watching a build already watched there is a
// no-op (added is false), so watches do not pile up; the notifier removes the row when the
// build finishes.
func (s *Store) AddWatch(ctx context.Context, chatID, threadID int64, conn, buildID, builder string, userID int64) (added bool, err error) {
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO watches (chat_id, thread_id, conn, build_id, builder, user_id)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chat_id, thread_id, conn, build_id) DO NOTHING`,
		chatID, threadID, conn, buildID, builder, userID)
	if err != nil {
		return false, fmt.Errorf("store: add watch: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ChatWatches lists the watches of one chat, every topic, oldest first.
func (s *Store) ChatWatches(ctx context.Context, chatID int64) ([]Watch, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT chat_id, thread_id, conn, build_id, builder, user_id, created_at
		FROM watches WHERE chat_id = $1 ORDER BY created_at, conn, build_id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("store: chat watches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Watch, error) {
		var w Watch
		err := row.Scan(&w.ChatID, &w.ThreadID, &w.Conn, &w.BuildID, &w.Builder, &w.UserID, &w.CreatedAt)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: chat watches: %w", err)
	}
	return out, nil
}

// AddFollowup records a build forced from a chat by its build request, so the notifier tells
// that chat when the build starts (and then watches it to its end). Adding the same request
// twice is a no-op.
func (s *Store) AddFollowup(ctx context.Context, chatID, threadID int64, conn, requestID, builder string, userID int64) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO followups (chat_id, thread_id, conn, request_id, builder, user_id)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chat_id, thread_id, conn, request_id) DO NOTHING`,
		chatID, threadID, conn, requestID, builder, userID)
	if err != nil {
		return fmt.Errorf("store: add followup: %w", err)
	}
	return nil
}

// Followup is a forced build a chat waits to hear has started.
type Followup struct {
	ChatID    int64
	ThreadID  int64
	Conn      string
	RequestID string
	Builder   string
	UserID    int64
	CreatedAt time.Time
}

// ChatFollowups lists the follow-ups of one chat, oldest first.
func (s *Store) ChatFollowups(ctx context.Context, chatID int64) ([]Followup, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT chat_id, thread_id, conn, request_id, builder, user_id, created_at
		FROM followups WHERE chat_id = $1 ORDER BY created_at, conn, request_id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("store: chat followups: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Followup, error) {
		var f Followup
		err := row.Scan(&f.ChatID, &f.ThreadID, &f.Conn, &f.RequestID, &f.Builder, &f.UserID, &f.CreatedAt)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: chat followups: %w", err)
	}
	return out, nil
}
