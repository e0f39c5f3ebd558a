package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/glob"
)

// Target is one chat (or forum topic of it) an event is to be told to.
type Target struct {
	ChatID, ThreadID int64
	// Kinds are the event's kinds the chat's subscription asked for, in ci.Kinds order;
	// empty when only a watch brought the chat here.
	Kinds []ci.Kind
	// Watch is set when the chat watches this build (/watch) or forced it (/force): it
	// hears the build's start and result whatever its subscription says.
	Watch bool
	// Started is set for a finished build when the chat subscribes to started: it may hold
	// a live card of this build to bring up to date even if it asked for no result kind.
	Started     bool
	CardMode    string // "edit" (live build card) or "new"
	LoudSuccess bool   // successes notify with sound
}

// EventKinds is every kind an event counts as: its raw kind and what classification derived.
func EventKinds(ev ci.Event) []ci.Kind {
	kinds := []ci.Kind{ev.Kind}
	for _, k := range ev.Derived {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// TakeTargets is the take-targets stage: who is to hear about ev (classified: its Derived
// kinds count). It takes, and does not only read: subscriptions whose events, builder and
// branch patterns match; for a started build, the chats that forced it, whose follow-up it
// consumes and turns into a watch; for a finished build, the chats watching it, whose watch
// it consumes. Paused chats are left out. Run it in the transaction that stores the event
// and queues its messages, so a follow-up or watch is consumed exactly when its message is
// queued (a rollback gives it back). It is one statement, one round trip.
//
// A build with a request id first takes that request's follow-up lock (followupLockSQL), in
// the same round trip: AddFollowup takes it too, so a follow-up added while the build's start
// or finish is being stored either is consumed here or sees the stored build.
func (tx *Tx) TakeTargets(ctx context.Context, ev ci.Event) ([]Target, error) {
	m := newMatcher(ev)
	if b := ev.Build; b != nil && b.RequestID != "" {
		batch := &pgx.Batch{}
		batch.Queue(followupLockSQL, ev.Conn, b.RequestID)
		batch.Queue(m.sql, m.args...)
		br := tx.tx.SendBatch(ctx, batch)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("store: match targets: lock follow-ups: %w", err)
		}
		rows, err := br.Query()
		if err != nil {
			return nil, fmt.Errorf("store: match targets: %w", err)
		}
		return m.collect(rows)
	}
	rows, err := tx.tx.Query(ctx, m.sql, m.args...)
	if err != nil {
		return nil, fmt.Errorf("store: match targets: %w", err)
	}
	return m.collect(rows)
}

// followupLockSQL is the transaction lock of one build request's follow-ups ($1 conn, $2
// request id), length-prefixed so that no two pairs share a key by concatenation.
const followupLockSQL = `SELECT pg_advisory_xact_lock(hashtext('herald.followups'),
	hashtext(length($1::text) || ':' || $1::text || $2::text))`

// matcher is TakeTargets' statement for one event and how its rows become targets.
type matcher struct {
	ev       ci.Event
	kinds    []ci.Kind
	finished bool
	sql      string
	args     []any
}

func newMatcher(ev ci.Event) *matcher {
	m := &matcher{ev: ev, kinds: EventKinds(ev), finished: ev.Kind == ci.KindFinished && ev.Build != nil}
	names := make([]string, len(m.kinds))
	for i, k := range m.kinds {
		names[i] = string(k)
	}
	if m.finished {
		names = append(names, string(ci.KindStarted))
	}
	m.sql, m.args = matchSQL(ev, names)
	return m
}

// collect reads the statement's rows (and closes them).
func (m *matcher) collect(rows pgx.Rows) ([]Target, error) {
	var out []Target
	idx := map[[2]int64]int{}
	var (
		t                          Target
		watch                      bool
		events, builders, branches []string
		tags                       []string
	)
	_, err := pgx.ForEachRow(rows, []any{&watch, &t.ChatID, &t.ThreadID, &events, &builders, &branches, &tags, &t.CardMode, &t.LoudSuccess}, func() error {
		key := [2]int64{t.ChatID, t.ThreadID}
		if watch {
			// Watch rows come after every subscription row.
			if i, ok := idx[key]; ok {
				out[i].Watch = true
				return nil
			}
			tt := t
			tt.Watch = true
			idx[key] = len(out)
			out = append(out, tt)
			return nil
		}
		if !subjectMatches(m.ev, builders, branches) || !tagsMatch(m.ev, tags) {
			return nil
		}
		var got []ci.Kind
		for _, k := range ci.Kinds {
			if slices.Contains(m.kinds, k) && slices.Contains(events, string(k)) {
				got = append(got, k)
			}
		}
		started := m.finished && slices.Contains(events, string(ci.KindStarted))
		if len(got) == 0 && !started {
			return nil
		}
		tt := t
		tt.Kinds, tt.Started = got, started
		idx[key] = len(out)
		out = append(out, tt)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: match targets: %w", err)
	}
	return out, nil
}

// matchSubscriptionsSQL selects the subscriptions of unpaused chats that ask for any of the
// kinds $1; builder and branch patterns and tags are applied by the caller (subjectMatches,
// tagsMatch).
const matchSubscriptionsSQL = `
	SELECT false AS watch, s.chat_id, s.thread_id, s.events, s.builders, s.branches, s.tags, c.card_mode, c.loud_success
	FROM subscriptions s JOIN chats c ON c.id = s.chat_id
	WHERE c.paused_at IS NULL AND s.events && $1::text[]`

// matchSQL is the statement TakeTargets runs: the matching subscriptions and, for a build
// event, the watchers it consumes (watch true), subscriptions first, each part ordered by
// chat and topic.
func matchSQL(ev ci.Event, kinds []string) (string, []any) {
	b := ev.Build
	switch {
	case b != nil && ev.Kind == ci.KindStarted && b.RequestID != "":
		// The forced build has started: from now on the chat follows it by build id.
		return `
			WITH f AS (
				DELETE FROM followups WHERE conn = $2 AND request_id = $3
				RETURNING chat_id, thread_id, builder, user_id),
			w AS (
				INSERT INTO watches (chat_id, thread_id, conn, build_id, builder, user_id)
				SELECT chat_id, thread_id, $2, $4, CASE WHEN builder = '' THEN $5 ELSE builder END, user_id FROM f
				ON CONFLICT DO NOTHING)
			` + matchSubscriptionsSQL + `
			UNION ALL
			SELECT true, f.chat_id, f.thread_id, NULL, NULL, NULL, NULL, c.card_mode, c.loud_success
			FROM f JOIN chats c ON c.id = f.chat_id WHERE c.paused_at IS NULL
			ORDER BY 1, 2, 3`, []any{kinds, ev.Conn, b.RequestID, b.ID, b.Builder}
	case b != nil && ev.Kind == ci.KindFinished:
		// The chats watching it, and those that forced it when its start was never seen (a
		// catch-up that found it finished): their follow-up ends here.
		return `
			WITH w AS (DELETE FROM watches WHERE conn = $2 AND build_id = $3 RETURNING chat_id, thread_id),
			f AS (DELETE FROM followups WHERE $4 <> '' AND conn = $2 AND request_id = $4 RETURNING chat_id, thread_id),
			x AS (SELECT chat_id, thread_id FROM w UNION SELECT chat_id, thread_id FROM f)
			` + matchSubscriptionsSQL + `
			UNION ALL
			SELECT true, x.chat_id, x.thread_id, NULL::text[], NULL::text[], NULL::text[], NULL::text[], c.card_mode, c.loud_success
			FROM x JOIN chats c ON c.id = x.chat_id WHERE c.paused_at IS NULL
			ORDER BY 1, 2, 3`, []any{kinds, ev.Conn, b.ID, b.RequestID}
	default:
		return matchSubscriptionsSQL + ` ORDER BY 2, 3`, []any{kinds}
	}
}

// subjectMatches applies a subscription's builder and branch glob patterns (ci/glob, the
// matcher authz uses too, so * covers names with slashes); an empty list means all. Worker events match a builder filter when the worker serves a matching builder,
// or when the provider does not say which builders it serves.
func subjectMatches(ev ci.Event, builders, branches []string) bool {
	switch {
	case ev.Build != nil:
		return anyGlob(builders, ev.Build.Builder) && anyGlob(branches, ev.Build.Branch)
	case ev.Worker != nil:
		if len(builders) == 0 || len(ev.Worker.Builders) == 0 {
			return true
		}
		for _, b := range ev.Worker.Builders {
			if anyGlob(builders, b) {
				return true
			}
		}
		return false
	default:
		return true
	}
}

// tagsMatch applies a subscription's tags (/notify tag=NAME): a build matches when its builder
// has one of them; none means every build. Events that are not a build's (workers) have no
// tags and are not filtered by them.
func tagsMatch(ev ci.Event, tags []string) bool {
	if len(tags) == 0 || ev.Build == nil {
		return true
	}
	for _, t := range ev.Build.Tags {
		if slices.Contains(tags, t) {
			return true
		}
	}
	return false
}

// anyGlob reports whether s matches one of patterns (none: all). A pattern that is not a
// valid glob (stored before /notify checked them) still matches the name it spells.
func anyGlob(patterns []string, s string) bool {
	return glob.MatchAny(patterns, s) || slices.Contains(patterns, s)
}

// PauseChat marks a chat Telegram refused with 403 (bot blocked, kicked): its notifications
// stop being queued, and what was queued for it fails with the reason, since it would only
// be refused again. A message from the chat resumes it (ResumeChat). A chat paused already
// (a command reply refused again) keeps the time and reason of its first pause: that is
// when herald stopped reaching it.
func (s *Store) PauseChat(ctx context.Context, chatID int64, reason string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.tx.Exec(ctx, `
			INSERT INTO chats (id, type, paused_at, paused_reason) VALUES ($1, $3, now(), $2)
			ON CONFLICT (id) DO UPDATE SET
				paused_at = COALESCE(chats.paused_at, now()),
				paused_reason = CASE WHEN chats.paused_at IS NULL THEN $2 ELSE chats.paused_reason END,
				updated_at = now()`,
			chatID, reason, guessChatType(chatID))
		if err != nil {
			return fmt.Errorf("store: pause chat: %w", err)
		}
		_, err = tx.tx.Exec(ctx, `
			WITH gone AS (DELETE FROM outbox WHERE chat_id = $1 RETURNING id, chat_id, thread_id, text, update_id, attempts, created_at)
			INSERT INTO outbox_failed (id, chat_id, thread_id, text, update_id, attempts, error, created_at)
			SELECT id, chat_id, thread_id, `+failedText+`, update_id, attempts, $2, created_at FROM gone
			ON CONFLICT (id) DO NOTHING`, chatID, "chat paused: "+reason)
		if err != nil {
			return fmt.Errorf("store: pause chat: drop its queue: %w", err)
		}
		return nil
	})
}

// Pause is a pause ResumeChat lifted: what a chat admin is told, since while it lasted herald
// could not tell them anything.
type Pause struct {
	Since  time.Time // when Telegram first refused the chat
	Reason string    // Telegram's answer, e.g. "Forbidden: bot was blocked by the user"
	// Failed counts the chat's messages that failed since the pause began: those queued when
	// it began and replies refused during it. Notifications of events during the pause were
	// never queued and are not counted.
	Failed int
}

// ResumeChat lifts a pause in the caller's transaction: the chat spoke to the bot again, so
// it can be written to. It returns the pause it lifted and true, or false when the chat was
// not paused. The transport calls it for every message, in the transaction that queues the
// replies, so the notice about the pause goes out exactly once with them; for a chat that is
// not paused it costs one indexed read.
func (tx *Tx) ResumeChat(ctx context.Context, chatID int64) (Pause, bool, error) {
	var p Pause
	// FOR UPDATE: of two messages handled at once, the second waits and finds nothing to lift.
	err := tx.tx.QueryRow(ctx, `
		WITH old AS (
			SELECT id, paused_at, paused_reason FROM chats WHERE id = $1 AND paused_at IS NOT NULL FOR UPDATE),
		lifted AS (
			UPDATE chats c SET paused_at = NULL, paused_reason = '', updated_at = now()
			FROM old WHERE c.id = old.id
			RETURNING old.paused_at, old.paused_reason)
		SELECT paused_at, paused_reason,
			(SELECT count(*) FROM outbox_failed f WHERE f.chat_id = $1 AND f.failed_at >= lifted.paused_at)
		FROM lifted`, chatID).Scan(&p.Since, &p.Reason, &p.Failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Pause{}, false, nil
	}
	if err != nil {
		return Pause{}, false, fmt.Errorf("store: resume chat: %w", err)
	}
	return p, true, nil
}

// ResumeChat is Tx.ResumeChat in its own transaction.
func (s *Store) ResumeChat(ctx context.Context, chatID int64) (p Pause, lifted bool, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		p, lifted, err = tx.ResumeChat(ctx, chatID)
		return err
	})
	if err != nil {
		return Pause{}, false, err
	}
	return p, lifted, nil
}

// PausedChat is a chat herald stopped writing to, and why.
type PausedChat struct {
	ChatID   int64
	Title    string
	Reason   string
	PausedAt time.Time
}

// PausedChats lists paused chats, for diagnostics.
func (s *Store) PausedChats(ctx context.Context) ([]PausedChat, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, title, paused_reason, paused_at FROM chats WHERE paused_at IS NOT NULL ORDER BY paused_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: paused chats: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PausedChat, error) {
		var p PausedChat
		err := r.Scan(&p.ChatID, &p.Title, &p.Reason, &p.PausedAt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: paused chats: %w", err)
	}
	return out, nil
}

// ErrSameChat is returned when asked to migrate a chat onto itself.
var ErrSameChat = errors.New("store: migrate chat onto itself")

// MigrateChat follows Telegram's migrate_to_chat_id: a group that became a supergroup has a
// new id. The chat row, its subscriptions, watches, follow-ups and queued messages move to
// the new id. When the new id is already a chat (herald saw the supergroup first), the old
// chat's settings and its registration are merged into it without overwriting what the new
// chat already has.
// Build cards are dropped: message ids do not carry over to the new chat.
func (s *Store) MigrateChat(ctx context.Context, from, to int64) error {
	if from == to {
		return ErrSameChat
	}
	return s.InTx(ctx, func(tx *Tx) error {
		var exists bool
		if err := tx.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chats WHERE id = $1)`, to).Scan(&exists); err != nil {
			return fmt.Errorf("store: migrate chat: %w", err)
		}
		stmts := []string{
			// ON UPDATE CASCADE carries subscriptions, watches, follow-ups and topics along.
			`UPDATE chats SET id = $2, type = 'supergroup', updated_at = now() WHERE id = $1`,
		}
		if exists {
			stmts = []string{
				`INSERT INTO forum_topics (chat_id, thread_id, name, created_at)
					SELECT $2, thread_id, name, created_at FROM forum_topics WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
				`INSERT INTO subscriptions (chat_id, thread_id, events, builders, branches, tags, updated_at)
					SELECT $2, thread_id, events, builders, branches, tags, updated_at FROM subscriptions WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
				`INSERT INTO watches (chat_id, thread_id, conn, build_id, builder, user_id, created_at)
					SELECT $2, thread_id, conn, build_id, builder, user_id, created_at FROM watches WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
				`INSERT INTO followups (chat_id, thread_id, conn, request_id, builder, user_id, created_at)
					SELECT $2, thread_id, conn, request_id, builder, user_id, created_at FROM followups WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
				// Quiet hours, digests, reminders and acks (chat_settings.go, reminders.go).
				`INSERT INTO chat_settings (chat_id, thread_id, quiet_from, quiet_to, quiet_zone, quiet_loud, digest_spec, digest_empty, digest_last, remind_every)
					SELECT $2, thread_id, quiet_from, quiet_to, quiet_zone, quiet_loud, digest_spec, digest_empty, digest_last, remind_every
					FROM chat_settings WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
				`INSERT INTO breakage_reminders (chat_id, thread_id, conn, build_id, reminded_at, acked_at, acked_by, acked_name)
					SELECT $2, thread_id, conn, build_id, reminded_at, acked_at, acked_by, acked_name
					FROM breakage_reminders WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
				// Deleting the old row cascades to its registration: a registered group would
				// become an unregistered supergroup. The new id keeps its own record if it has one.
				`INSERT INTO registered_chats (chat_id, how, request_id, invite_id, by_user, registered_at)
					SELECT $2, how, request_id, invite_id, by_user, registered_at FROM registered_chats WHERE chat_id = $1
					ON CONFLICT (chat_id) DO NOTHING`,
				// Decided requests stay as the record; a pending one moves unless the new id has
				// its own pending request (one per chat), which then stands for both.
				`UPDATE registration_requests SET chat_id = $2 WHERE chat_id = $1
					AND NOT (status = 'pending' AND EXISTS (SELECT FROM registration_requests WHERE chat_id = $2 AND status = 'pending'))`,
				`DELETE FROM chats WHERE id = $1`,
			}
		}
		stmts = append(stmts,
			`UPDATE outbox SET chat_id = $2 WHERE chat_id = $1`,
			`DELETE FROM build_cards WHERE chat_id = $1`,
			// The old id stays seeded, so a config still naming it does not bring it back.
			`INSERT INTO seeded_defaults (chat_id, thread_id)
				SELECT $2, thread_id FROM seeded_defaults WHERE chat_id = $1 ON CONFLICT DO NOTHING`,
		)
		for _, q := range stmts {
			args := []any{from, to}
			if !strings.Contains(q, "$2") {
				args = args[:1]
			}
			if _, err := tx.tx.Exec(ctx, q, args...); err != nil {
				return fmt.Errorf("store: migrate chat: %w", err)
			}
		}
		return nil
	})
}

// guessChatType names a chat herald has not seen a message from yet: Telegram gives users
// positive ids and groups negative ones. The transport corrects it on the first update.
func guessChatType(chatID int64) string {
	if chatID > 0 {
		return "private"
	}
	return "group"
}
