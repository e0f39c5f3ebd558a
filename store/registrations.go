package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// failedText is the text of an outbox row as outbox_failed keeps it (SQL, over the row's
// text): an invite link's code is left out. A reply that never reached its chat must not
// keep a code that still lets a chat in, in a table nothing prunes; the rest says what
// the message was.
const failedText = `regexp_replace(text, '([?&]start(group)?=)[A-Za-z0-9_-]+', '\1…', 'g')`

// Invite refusals: each is a different reply to the person who opened the link.
var (
	ErrInviteUnknown = errors.New("store: no such invite")
	ErrInviteExpired = errors.New("store: invite expired")
	ErrInviteSpent   = errors.New("store: invite used up")
)

// Registration request states.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
)

// How a chat came to be registered.
const (
	RegisteredOpen     = "open"     // it used herald while registration was open
	RegisteredApproval = "approval" // an admin approved its request
	RegisteredInvite   = "invite"   // it opened an invite link
)

// RegistrationRequest is a chat's request to be let in, and how it was decided.
type RegistrationRequest struct {
	ID        int64
	ChatID    int64
	ThreadID  int64 // the forum topic it asked from; the requester is told there
	ChatType  string
	ChatTitle string
	UserID    int64
	UserName  string // @username without @, may be empty
	FirstName string
	// Events, Builders and Branches are the subscription approval gives the chat (or its
	// topic), unless it has one of its own by then.
	Events, Builders, Branches []string
	RequestedAt                time.Time

	Status        string // RequestPending, RequestApproved or RequestDenied
	DecidedBy     int64
	DecidedByName string
	DecidedAt     time.Time // zero while pending
}

// Invite is an invite link as stored: never its code, only the code's hash.
type Invite struct {
	ID            int64
	Uses          int // how many chats it lets in
	UsesLeft      int
	ExpiresAt     time.Time
	CreatedBy     int64
	CreatedByName string
	ChatID        int64 // where /invite was sent
	CreatedAt     time.Time
}

// ChatRegistered reports whether chatID may use herald: it was registered (before the
// registration migration, while registration was open, by approval or by invite), or the
// config's chats: subscribe it, or a hook's chats: do. A chat the config sends messages to
// must be able to answer them, if only with /notify off.
func (s *Store) ChatRegistered(ctx context.Context, chatID int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM registered_chats WHERE chat_id = $1)
		    OR EXISTS (SELECT 1 FROM seeded_defaults WHERE chat_id = $1)
		    OR EXISTS (SELECT 1 FROM hook_seeded WHERE chat_id = $1)`, chatID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: chat registered: %w", err)
	}
	return ok, nil
}

// RegisterChat records that chatID is registered; a chat registered already keeps the record
// of how it first was. The chat must be known (the intake saves every chat it hears from).
func (s *Store) RegisterChat(ctx context.Context, chatID int64, how string, byUser int64) error {
	return registerChat(ctx, s.pool, chatID, how, byUser, nil, nil)
}

func registerChat(ctx context.Context, q querier, chatID int64, how string, byUser int64, requestID, inviteID *int64) error {
	_, err := q.Exec(ctx, `
		INSERT INTO registered_chats (chat_id, how, request_id, invite_id, by_user) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chat_id) DO NOTHING`, chatID, how, requestID, inviteID, byUser)
	if err != nil {
		return fmt.Errorf("store: register chat: %w", err)
	}
	return nil
}

// subscribeRegistered gives a newly registered chat (or topic) its first subscription; one
// it set already (or the config's) is kept.
func subscribeRegistered(ctx context.Context, q querier, chatID, threadID int64, events, builders, branches []string) error {
	if len(events) == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `
		INSERT INTO subscriptions (chat_id, thread_id, events, builders, branches) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chat_id, thread_id) DO NOTHING`,
		chatID, threadID, textArray(events), textArray(builders), textArray(branches))
	if err != nil {
		return fmt.Errorf("store: subscribe registered chat: %w", err)
	}
	return nil
}

const requestColumns = `id, chat_id, thread_id, chat_type, chat_title, user_id, user_name, first_name,
	events, builders, branches, requested_at, status, decided_by, decided_by_name, decided_at`

func scanRequest(row pgx.Row) (RegistrationRequest, error) {
	var r RegistrationRequest
	var decided *time.Time
	err := row.Scan(&r.ID, &r.ChatID, &r.ThreadID, &r.ChatType, &r.ChatTitle, &r.UserID, &r.UserName, &r.FirstName,
		&r.Events, &r.Builders, &r.Branches, &r.RequestedAt, &r.Status, &r.DecidedBy, &r.DecidedByName, &decided)
	if decided != nil {
		r.DecidedAt = *decided
	}
	return r, err
}

// RequestRegistration files r (its ID and status are ignored) unless the chat has a pending
// request already: then that one is returned and created is false, so asking twice sends
// the admins one request. The chat must be known.
func (s *Store) RequestRegistration(ctx context.Context, r RegistrationRequest) (req RegistrationRequest, created bool, err error) {
	// Looked for first: an INSERT that conflicts still takes a number from the sequence, and
	// admins would see requests #1, #3.
	req, err = scanRequest(s.pool.QueryRow(ctx, `
		SELECT `+requestColumns+` FROM registration_requests WHERE chat_id = $1 AND status = 'pending'`, r.ChatID))
	if err == nil {
		return req, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return RegistrationRequest{}, false, fmt.Errorf("store: request registration: %w", err)
	}
	req, err = scanRequest(s.pool.QueryRow(ctx, `
		INSERT INTO registration_requests (chat_id, thread_id, chat_type, chat_title, user_id, user_name, first_name,
			events, builders, branches, requested_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (chat_id) WHERE status = 'pending' DO NOTHING
		RETURNING `+requestColumns,
		r.ChatID, r.ThreadID, r.ChatType, r.ChatTitle, r.UserID, r.UserName, r.FirstName,
		textArray(r.Events), textArray(r.Builders), textArray(r.Branches), r.RequestedAt))
	if err == nil {
		return req, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return RegistrationRequest{}, false, fmt.Errorf("store: request registration: %w", err)
	}
	req, err = scanRequest(s.pool.QueryRow(ctx, `
		SELECT `+requestColumns+` FROM registration_requests WHERE chat_id = $1 AND status = 'pending'`, r.ChatID))
	if err != nil {
		// Filed and decided between the statements: rare enough to let the caller retry.
		return RegistrationRequest{}, false, fmt.Errorf("store: request registration: the pending request: %w", err)
	}
	return req, false, nil
}

// Registration returns one request; ErrNotFound when there is none with that id.
func (s *Store) Registration(ctx context.Context, id int64) (RegistrationRequest, error) {
	r, err := scanRequest(s.pool.QueryRow(ctx, `SELECT `+requestColumns+` FROM registration_requests WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return RegistrationRequest{}, ErrNotFound
	}
	if err != nil {
		return RegistrationRequest{}, fmt.Errorf("store: registration request: %w", err)
	}
	return r, nil
}

// PendingRegistrations lists the requests waiting for a decision, oldest first.
func (s *Store) PendingRegistrations(ctx context.Context, limit int) ([]RegistrationRequest, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+requestColumns+` FROM registration_requests WHERE status = 'pending' ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending registrations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegistrationRequest, error) { return scanRequest(row) })
	if err != nil {
		return nil, fmt.Errorf("store: pending registrations: %w", err)
	}
	return out, nil
}

// DecideRegistration approves or denies a pending request, once: decided reports whether
// this call decided it; when it was decided already the request comes back as it was
// decided (by whom, when), so a second press of a button can say so. Approval registers the
// chat and gives it the request's subscription in the same transaction. ErrNotFound when
// there is no such request.
func (s *Store) DecideRegistration(ctx context.Context, id int64, approve bool, byUser int64, byName string, at time.Time) (req RegistrationRequest, decided bool, err error) {
	status := RequestDenied
	if approve {
		status = RequestApproved
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		var err error
		req, err = scanRequest(tx.tx.QueryRow(ctx, `
			UPDATE registration_requests SET status = $2, decided_by = $3, decided_by_name = $4, decided_at = $5
			WHERE id = $1 AND status = 'pending'
			RETURNING `+requestColumns, id, status, byUser, byName, at))
		if errors.Is(err, pgx.ErrNoRows) {
			req, err = scanRequest(tx.tx.QueryRow(ctx, `SELECT `+requestColumns+` FROM registration_requests WHERE id = $1`, id))
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if err != nil {
			return err
		}
		decided = true
		if !approve {
			return nil
		}
		if err := registerChat(ctx, tx.tx, req.ChatID, RegisteredApproval, byUser, &req.ID, nil); err != nil {
			return err
		}
		return subscribeRegistered(ctx, tx.tx, req.ChatID, req.ThreadID, req.Events, req.Builders, req.Branches)
	})
	if errors.Is(err, ErrNotFound) {
		return RegistrationRequest{}, false, fmt.Errorf("store: decide registration %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return RegistrationRequest{}, false, fmt.Errorf("store: decide registration: %w", err)
	}
	return req, decided, nil
}

// CreateInvite stores an invite whose code hashes (SHA-256) to codeHash; inv's ID and
// UsesLeft are ignored (a new invite has all its uses left).
func (s *Store) CreateInvite(ctx context.Context, codeHash []byte, inv Invite) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO invites (code_sha256, uses, uses_left, expires_at, created_by, created_by_name, chat_id, created_at)
		VALUES ($1, $2, $2, $3, $4, $5, $6, $7) RETURNING id`,
		codeHash, inv.Uses, inv.ExpiresAt, inv.CreatedBy, inv.CreatedByName, inv.ChatID, inv.CreatedAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: create invite: %w", err)
	}
	return id, nil
}

// RedeemInvite lets chatID in with the invite whose code hashes to codeHash, taking one of
// its uses, and gives the chat (or topic threadID) the subscription events (unless it has
// one), all in one transaction. A chat registered already takes no use: the invite is
// returned with registered false. Refusals are ErrInviteUnknown, ErrInviteExpired (at is
// past its expiry) and ErrInviteSpent, each with the invite when there is one. Two chats
// opening the last use at once are serialised on the invite's row: one gets in.
func (s *Store) RedeemInvite(ctx context.Context, codeHash []byte, chatID, threadID int64, events []string, at time.Time) (inv Invite, registered bool, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		err := tx.tx.QueryRow(ctx, `
			SELECT id, uses, uses_left, expires_at, created_by, created_by_name, chat_id, created_at
			FROM invites WHERE code_sha256 = $1 FOR UPDATE`, codeHash).
			Scan(&inv.ID, &inv.Uses, &inv.UsesLeft, &inv.ExpiresAt, &inv.CreatedBy, &inv.CreatedByName, &inv.ChatID, &inv.CreatedAt)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrInviteUnknown
		case err != nil:
			return err
		case !at.Before(inv.ExpiresAt):
			return ErrInviteExpired
		case inv.UsesLeft <= 0:
			return ErrInviteSpent
		}
		var already bool
		if err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM registered_chats WHERE chat_id = $1)`, chatID).Scan(&already); err != nil {
			return err
		}
		if already {
			return nil
		}
		if _, err := tx.tx.Exec(ctx, `UPDATE invites SET uses_left = uses_left - 1 WHERE id = $1`, inv.ID); err != nil {
			return err
		}
		inv.UsesLeft--
		if err := registerChat(ctx, tx.tx, chatID, RegisteredInvite, inv.CreatedBy, nil, &inv.ID); err != nil {
			return err
		}
		registered = true
		return subscribeRegistered(ctx, tx.tx, chatID, threadID, events, nil, nil)
	})
	switch {
	case errors.Is(err, ErrInviteUnknown):
		return Invite{}, false, err
	case errors.Is(err, ErrInviteExpired), errors.Is(err, ErrInviteSpent):
		return inv, false, err
	case err != nil:
		return Invite{}, false, fmt.Errorf("store: redeem invite: %w", err)
	}
	return inv, registered, nil
}
