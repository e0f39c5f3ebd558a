package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The kinds of CI identity a Telegram user may be linked to.
const (
	IdentityGitHub   = "github"   // a GitHub login
	IdentityGitLab   = "gitlab"   // a GitLab username
	IdentityEmail    = "email"    // a commit author's address
	IdentityBuildbot = "buildbot" // a Buildbot author or owner as Buildbot spells it, "Ann <ann@example.com>"
)

// IdentityKinds lists the kinds, in the order herald shows them.
var IdentityKinds = []string{IdentityGitHub, IdentityGitLab, IdentityEmail, IdentityBuildbot}

// Where a link comes from.
const (
	LinkFromConfig = "config" // the config's people:, seeded at every start
	LinkFromIam    = "iam"    // asked for with /iam and approved by an admin
)

// Link states. A config link is approved from the start.
const (
	LinkPending  = "pending"
	LinkApproved = "approved"
	LinkDenied   = "denied"
	LinkRemoved  = "removed"
)

// Refusals of a link.
var (
	// ErrLinkTaken: the identity is linked to another Telegram user. One identity names
	// one person, so nobody can have someone else mentioned in their place.
	ErrLinkTaken = errors.New("store: identity linked to another user")
	// ErrLinked: the user has that link already.
	ErrLinked = errors.New("store: identity linked already")
	// ErrLinkFromConfig: the link comes from the config; only the config takes it away.
	ErrLinkFromConfig = errors.New("store: link comes from the config")
)

// IdentityKey is an identity as links are matched: logins and addresses in lower case
// (GitHub and GitLab logins and the domain of an address are case-insensitive, and nobody
// has two mailboxes that differ in case only), without "@" or "mailto:" in front; a Buildbot
// author as Buildbot wrote it, trimmed.
func IdentityKey(kind, value string) string {
	v := strings.TrimSpace(value)
	switch kind {
	case IdentityGitHub, IdentityGitLab:
		return strings.ToLower(strings.TrimPrefix(v, "@"))
	case IdentityEmail:
		if len(v) > 7 && strings.EqualFold(v[:7], "mailto:") {
			v = v[7:]
		}
		return strings.ToLower(strings.Trim(v, "<>"))
	}
	return v
}

// Identity is one CI identity: a kind and a value (matched by IdentityKey).
type Identity struct {
	Kind, Value string
}

// PersonLink is one CI identity of a Telegram user, or a request for one.
type PersonLink struct {
	ID         int64
	TelegramID int64
	Kind       string
	Identity   string // IdentityKey of what was given
	Source     string // LinkFromConfig or LinkFromIam
	Status     string // LinkPending, LinkApproved, LinkDenied or LinkRemoved
	// Name is the user's name when they asked (a config link has none): the text of a
	// mention, so a chat reads "Ann" rather than a number.
	Name             string
	ChatID, ThreadID int64 // where they asked, to be told there of the decision
	RequestedAt      time.Time
	DecidedBy        int64
	DecidedByName    string
	DecidedAt        time.Time // zero while pending, and for config links
}

const linkColumns = `id, telegram_id, kind, identity, source, status, name, chat_id, thread_id, requested_at, decided_by, decided_by_name, decided_at`

func scanLink(row pgx.Row) (PersonLink, error) {
	var l PersonLink
	var decided *time.Time
	err := row.Scan(&l.ID, &l.TelegramID, &l.Kind, &l.Identity, &l.Source, &l.Status, &l.Name,
		&l.ChatID, &l.ThreadID, &l.RequestedAt, &l.DecidedBy, &l.DecidedByName, &decided)
	if decided != nil {
		l.DecidedAt = *decided
	}
	return l, err
}

func collectLinks(rows pgx.Rows, err error) ([]PersonLink, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (PersonLink, error) { return scanLink(row) })
}

// SeedPeople makes the config's people: the config links, replacing those of the last
// start: a link taken out of the config is gone, one added is there. A config link takes
// its identity from whoever had it by /iam (the config is the admin's word). Replicas
// starting at once seed one after the other (an advisory lock), not into each other.
func (s *Store) SeedPeople(ctx context.Context, links []PersonLink, at time.Time) error {
	err := s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('herald.seed_people'))`); err != nil {
			return err
		}
		if _, err := tx.tx.Exec(ctx, `DELETE FROM people_links WHERE source = 'config'`); err != nil {
			return err
		}
		for _, l := range links {
			key := IdentityKey(l.Kind, l.Identity)
			if _, err := tx.tx.Exec(ctx, `
				UPDATE people_links SET status = 'removed', decided_by_name = 'the config', decided_at = $3
				WHERE kind = $1 AND identity = $2 AND status = 'approved'`, l.Kind, key, at); err != nil {
				return err
			}
			if _, err := tx.tx.Exec(ctx, `
				INSERT INTO people_links (telegram_id, kind, identity, source, status, name, requested_at)
				VALUES ($1, $2, $3, 'config', 'approved', $4, $5)`, l.TelegramID, l.Kind, key, l.Name, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: seed people: %w", err)
	}
	return nil
}

// RequestLink files a request of l.TelegramID for l's identity (its ID, source and status
// are ignored), unless the user asked for it already and it waits: then that request is
// returned and created is false, so asking twice sends the admins one request. Refusals:
// ErrLinked when the user has the link, ErrLinkTaken when someone else has it.
func (s *Store) RequestLink(ctx context.Context, l PersonLink) (req PersonLink, created bool, err error) {
	key := IdentityKey(l.Kind, l.Identity)
	err = s.InTx(ctx, func(tx *Tx) error {
		owner, err := linkedTo(ctx, tx.tx, l.Kind, key)
		switch {
		case err != nil:
			return err
		case owner == l.TelegramID:
			return ErrLinked
		case owner != 0:
			return ErrLinkTaken
		}
		req, err = scanLink(tx.tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM people_links
			WHERE telegram_id = $1 AND kind = $2 AND identity = $3 AND status = 'pending'`, l.TelegramID, l.Kind, key))
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		created = true
		req, err = scanLink(tx.tx.QueryRow(ctx, `
			INSERT INTO people_links (telegram_id, kind, identity, source, status, name, chat_id, thread_id, requested_at)
			VALUES ($1, $2, $3, 'iam', 'pending', $4, $5, $6, $7) RETURNING `+linkColumns,
			l.TelegramID, l.Kind, key, l.Name, l.ChatID, l.ThreadID, l.RequestedAt))
		return err
	})
	if isUniqueViolation(err) {
		// The same request filed at the same moment by a second press: ask again.
		return PersonLink{}, false, fmt.Errorf("store: request link: filed twice at once: %w", err)
	}
	if err != nil {
		return PersonLink{}, false, fmt.Errorf("store: request link: %w", err)
	}
	return req, created, nil
}

// linkedTo is the user an identity is linked to, 0 for nobody.
func linkedTo(ctx context.Context, q querier, kind, key string) (int64, error) {
	var owner int64
	err := q.QueryRow(ctx, `SELECT telegram_id FROM people_links WHERE kind = $1 AND identity = $2 AND status = 'approved'`,
		kind, key).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return owner, err
}

// DecideLink approves or denies a pending request, once: decided reports whether this call
// decided it; when it was decided already the request comes back as it was decided (by
// whom, when), so a second press of a button can say so. Approving a request for an
// identity someone else was linked to meanwhile is ErrLinkTaken, and the request waits on
// (a deny still works). ErrNotFound when there is no such request.
func (s *Store) DecideLink(ctx context.Context, id int64, approve bool, byUser int64, byName string, at time.Time) (l PersonLink, decided bool, err error) {
	status := LinkDenied
	if approve {
		status = LinkApproved
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		l, err = scanLink(tx.tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM people_links WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || l.Status != LinkPending {
			return err
		}
		if approve {
			owner, err := linkedTo(ctx, tx.tx, l.Kind, l.Identity)
			if err != nil {
				return err
			}
			if owner != 0 {
				return ErrLinkTaken
			}
		}
		l, err = scanLink(tx.tx.QueryRow(ctx, `
			UPDATE people_links SET status = $2, decided_by = $3, decided_by_name = $4, decided_at = $5
			WHERE id = $1 RETURNING `+linkColumns, id, status, byUser, byName, at))
		decided = err == nil
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrLinkTaken):
		return l, false, fmt.Errorf("store: decide link %d: %w", id, err)
	case isUniqueViolation(err):
		// Another request for the identity approved at the same moment.
		return l, false, fmt.Errorf("store: decide link %d: %w", id, ErrLinkTaken)
	case err != nil:
		return PersonLink{}, false, fmt.Errorf("store: decide link: %w", err)
	}
	return l, decided, nil
}

// Link returns one link or request; ErrNotFound when there is none with that id.
func (s *Store) Link(ctx context.Context, id int64) (PersonLink, error) {
	l, err := scanLink(s.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM people_links WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return PersonLink{}, fmt.Errorf("store: link %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return PersonLink{}, fmt.Errorf("store: link: %w", err)
	}
	return l, nil
}

// UserLinks are a Telegram user's links and the requests that wait, by kind and identity.
func (s *Store) UserLinks(ctx context.Context, telegramID int64) ([]PersonLink, error) {
	out, err := collectLinks(s.pool.Query(ctx, `SELECT `+linkColumns+` FROM people_links
		WHERE telegram_id = $1 AND status IN ('approved', 'pending') ORDER BY kind, identity, id`, telegramID))
	if err != nil {
		return nil, fmt.Errorf("store: user links: %w", err)
	}
	return out, nil
}

// PendingLinks lists the requests waiting for a decision, oldest first.
func (s *Store) PendingLinks(ctx context.Context, limit int) ([]PersonLink, error) {
	out, err := collectLinks(s.pool.Query(ctx, `SELECT `+linkColumns+` FROM people_links
		WHERE status = 'pending' ORDER BY id LIMIT $1`, limit))
	if err != nil {
		return nil, fmt.Errorf("store: pending links: %w", err)
	}
	return out, nil
}

// Unlink takes back a user's link (or withdraws their waiting request) of one identity.
// ErrNotFound when they have neither; ErrLinkFromConfig for a link of the config's.
func (s *Store) Unlink(ctx context.Context, telegramID int64, kind, identity string, at time.Time) (PersonLink, error) {
	key := IdentityKey(kind, identity)
	var l PersonLink
	err := s.InTx(ctx, func(tx *Tx) error {
		links, err := collectLinks(tx.tx.Query(ctx, `SELECT `+linkColumns+` FROM people_links
			WHERE telegram_id = $1 AND kind = $2 AND identity = $3 AND status IN ('approved', 'pending')
			ORDER BY id FOR UPDATE`, telegramID, kind, key))
		if err != nil {
			return err
		}
		if len(links) == 0 {
			return ErrNotFound
		}
		if i := slices.IndexFunc(links, func(l PersonLink) bool { return l.Source == LinkFromConfig }); i >= 0 {
			l = links[i]
			return ErrLinkFromConfig
		}
		l = links[0]
		_, err = tx.tx.Exec(ctx, `UPDATE people_links SET status = 'removed', decided_by = $1, decided_at = $4
			WHERE telegram_id = $1 AND kind = $2 AND identity = $3 AND status IN ('approved', 'pending')`,
			telegramID, kind, key, at)
		return err
	})
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrLinkFromConfig):
		return l, fmt.Errorf("store: unlink %s:%s: %w", kind, key, err)
	case err != nil:
		return PersonLink{}, fmt.Errorf("store: unlink: %w", err)
	}
	return l, nil
}

// PeopleFor are the approved links of any of ids, one per Telegram user (the first of ids
// that names them), in the order of ids: the people a build's authors are.
func (s *Store) PeopleFor(ctx context.Context, ids []Identity) ([]PersonLink, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	kinds, keys := make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		kinds[i], keys[i] = id.Kind, IdentityKey(id.Kind, id.Value)
	}
	links, err := collectLinks(s.pool.Query(ctx, `SELECT `+linkColumns+` FROM people_links
		WHERE status = 'approved' AND (kind, identity) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, kinds, keys))
	if err != nil {
		return nil, fmt.Errorf("store: people for: %w", err)
	}
	var out []PersonLink
	for i := range ids {
		for _, l := range links {
			if l.Kind == kinds[i] && l.Identity == keys[i] &&
				!slices.ContainsFunc(out, func(o PersonLink) bool { return o.TelegramID == l.TelegramID }) {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// SetMentions turns mentions on or off in a chat's topic (thread 0: the chat). The chat
// must be known.
func (s *Store) SetMentions(ctx context.Context, chatID, threadID int64, on bool, at time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO chat_mentions (chat_id, thread_id, enabled, changed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET enabled = EXCLUDED.enabled, changed_at = EXCLUDED.changed_at`,
		chatID, threadID, on, at)
	if err != nil {
		return fmt.Errorf("store: set mentions: %w", err)
	}
	return nil
}

// Mentions reports whether a chat's topic turned mentions on (off when it never said).
func (s *Store) Mentions(ctx context.Context, chatID, threadID int64) (bool, error) {
	var on bool
	err := s.pool.QueryRow(ctx, `SELECT enabled FROM chat_mentions WHERE chat_id = $1 AND thread_id = $2`,
		chatID, threadID).Scan(&on)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("store: mentions: %w", err)
	}
	return on, nil
}

// ChatThread names a chat, or one forum topic of it.
type ChatThread struct{ ChatID, ThreadID int64 }

// MentionsOn are those of chats that turned mentions on.
func (s *Store) MentionsOn(ctx context.Context, chats []ChatThread) (map[ChatThread]bool, error) {
	out := map[ChatThread]bool{}
	if len(chats) == 0 {
		return out, nil
	}
	ids, threads := make([]int64, len(chats)), make([]int64, len(chats))
	for i, c := range chats {
		ids[i], threads[i] = c.ChatID, c.ThreadID
	}
	rows, err := s.pool.Query(ctx, `SELECT chat_id, thread_id FROM chat_mentions
		WHERE enabled AND (chat_id, thread_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))`, ids, threads)
	if err != nil {
		return nil, fmt.Errorf("store: mentions on: %w", err)
	}
	on, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ChatThread, error) {
		var c ChatThread
		return c, row.Scan(&c.ChatID, &c.ThreadID)
	})
	if err != nil {
		return nil, fmt.Errorf("store: mentions on: %w", err)
	}
	for _, c := range on {
		out[c] = true
	}
	return out, nil
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
