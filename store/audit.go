package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Audit outcomes.
const (
	AuditAllowed = "allowed" // the user was allowed and the CI did it
	AuditDenied  = "denied"  // the matrix said no; nothing reached the CI
	AuditFailed  = "failed"  // allowed, but the CI refused or was unreachable
)

// AuditEntry is one attempt at a dangerous command.
type AuditEntry struct {
	ID       int64
	At       time.Time
	UserID   int64
	UserName string
	ChatID   int64
	ThreadID int64
	Command  string
	Args     string
	Conn     string
	Builder  string
	Outcome  string // AuditAllowed, AuditDenied or AuditFailed
	Detail   string // the reason denied, the CI's error, or what was done
}

// Audit appends one attempt at a dangerous command to the audit log. The signature uses plain
// types so package commands can name it in an interface without importing store.
func (s *Store) Audit(ctx context.Context, at time.Time, userID int64, userName string, chatID, threadID int64,
	command, args, conn, builder, outcome, detail string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO audit_log (at, user_id, user_name, chat_id, thread_id, command, args, conn, builder, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		at, userID, userName, chatID, threadID, command, args, conn, builder, outcome, detail)
	if err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

// AuditLog returns the newest limit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, at, user_id, user_name, chat_id, thread_id, command, args, conn, builder, outcome, detail
		FROM audit_log ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.UserID, &e.UserName, &e.ChatID, &e.ThreadID, &e.Command, &e.Args,
			&e.Conn, &e.Builder, &e.Outcome, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	return out, nil
}
