package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
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

// AddFollowup records a build forced (or re-run) from a chat by its build request, so the
// notifier tells that chat when the build starts and then how it ends. Adding the same request
// twice is a no-op.
//
// The CI may have reported the build before the chat's follow-up is added (GitHub's webhook
// can come before the answer to the dispatch); the build is then returned, for the caller to
// tell the chat. One already running is watched at once instead, so the chat hears how it
// ends; for one already finished nothing is recorded: the caller tells the chat how it ended. The request's follow-up lock (see TakeTargets) keeps this
// and the notifier from passing each other.
func (s *Store) AddFollowup(ctx context.Context, chatID, threadID int64, conn, requestID, builder string, userID int64) (reported *ci.Build, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, followupLockSQL, conn, requestID); err != nil {
			return err
		}
		b, err := scanBuild(tx.tx.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds
			WHERE conn = $1 AND request_id = $2 ORDER BY complete, started_at DESC NULLS FIRST LIMIT 1`, conn, requestID))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			_, err = tx.tx.Exec(ctx, `
				INSERT INTO followups (chat_id, thread_id, conn, request_id, builder, user_id)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (chat_id, thread_id, conn, request_id) DO NOTHING`,
				chatID, threadID, conn, requestID, builder, userID)
			return err
		case err != nil:
			return err
		}
		reported = &b
		if b.Complete {
			return nil
		}
		if builder == "" {
			builder = b.Builder
		}
		_, err = tx.tx.Exec(ctx, `
			INSERT INTO watches (chat_id, thread_id, conn, build_id, builder, user_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (chat_id, thread_id, conn, build_id) DO NOTHING`,
			chatID, threadID, conn, b.ID, builder, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: add followup: %w", err)
	}
	return reported, nil
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
