package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/hook"
)

// HookEvent is the subscription event of a hook, stored in subscriptions.events beside the
// CI kinds (which it never matches): "hook:allure".
func HookEvent(name string) string { return "hook:" + name }

// hookKeyRetention is how long a message hook's delivery key is remembered.
const hookKeyRetention = 7 * 24 * time.Hour

// HookDef is a hook of the config, as /notify needs to know it.
type HookDef struct {
	Name       string
	Kind       string
	AllowChats []int64 // empty: every chat may subscribe
	Chats      []hook.Target
}

// RegisterHooks records the config's hooks (and forgets those no longer in it) and seeds
// each message hook's fixed chats once in the life of the database: the chat is subscribed
// to hook:NAME, and a later /notify off there is not undone by the next start.
func (s *Store) RegisterHooks(ctx context.Context, defs []HookDef) error {
	return s.InTx(ctx, func(tx *Tx) error {
		names := make([]string, 0, len(defs))
		for _, d := range defs {
			names = append(names, d.Name)
			allow := d.AllowChats
			if allow == nil {
				allow = []int64{}
			}
			if _, err := tx.tx.Exec(ctx, `
				INSERT INTO hooks (name, kind, allow_chats) VALUES ($1, $2, $3)
				ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, allow_chats = EXCLUDED.allow_chats, updated_at = now()`,
				d.Name, d.Kind, allow); err != nil {
				return fmt.Errorf("store: register hook %s: %w", d.Name, err)
			}
			for _, c := range d.Chats {
				if err := seedHookChat(ctx, tx.tx, d.Name, c); err != nil {
					return err
				}
			}
		}
		if _, err := tx.tx.Exec(ctx, `DELETE FROM hooks WHERE NOT (name = ANY($1::text[]))`, names); err != nil {
			return fmt.Errorf("store: register hooks: %w", err)
		}
		return nil
	})
}

func seedHookChat(ctx context.Context, q querier, name string, c hook.Target) error {
	tag, err := q.Exec(ctx, `INSERT INTO hook_seeded (hook, chat_id, thread_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		name, c.ChatID, c.ThreadID)
	if err != nil {
		return fmt.Errorf("store: seed chat of hook %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, `INSERT INTO chats (id, type) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		c.ChatID, guessChatType(c.ChatID)); err != nil {
		return fmt.Errorf("store: seed chat of hook %s: %w", name, err)
	}
	_, err = q.Exec(ctx, `
		INSERT INTO subscriptions AS s (chat_id, thread_id, events) VALUES ($1, $2, ARRAY[$3::text])
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET events = s.events || $3::text, updated_at = now()
		WHERE NOT ($3::text = ANY(s.events))`, c.ChatID, c.ThreadID, HookEvent(name))
	if err != nil {
		return fmt.Errorf("store: seed chat of hook %s: %w", name, err)
	}
	return nil
}

// HookAccess says what kind of hook name is (hook.KindMessage or hook.KindCheck; "" when it
// is not a hook of the config) and whether chatID may subscribe to it. The kind matters
// because only a message hook is heard as hook:NAME: a check hook's results come as
// problem and recovery. The signature uses plain types so that package commands can name it
// in an interface.
func (s *Store) HookAccess(ctx context.Context, name string, chatID int64) (kind string, allowed bool, err error) {
	var allow []int64
	err = s.pool.QueryRow(ctx, `SELECT kind, allow_chats FROM hooks WHERE name = $1`, name).Scan(&kind, &allow)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: hook %s: %w", name, err)
	}
	if len(allow) == 0 || slices.Contains(allow, chatID) {
		return kind, true, nil
	}
	var seeded bool
	err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM hook_seeded WHERE hook = $1 AND chat_id = $2)`, name, chatID).Scan(&seeded)
	if err != nil {
		return "", false, fmt.Errorf("store: hook %s: %w", name, err)
	}
	return kind, seeded, nil
}

// StoreHookMessage stores a message hook's message and queues it to every chat (or topic)
// subscribed to the hook, not paused, and still let in by the hook's allow_chats (a chat
// subscribed before the config narrowed them hears no more), in one transaction. A key
// stored before for the hook makes it a no-op (stored false); keys older than a week are
// forgotten first, so a key that comes back after that is a new delivery.
func (s *Store) StoreHookMessage(ctx context.Context, name, key, text string) (stored bool, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		if key != "" {
			if _, err := tx.tx.Exec(ctx, `DELETE FROM hook_deliveries WHERE hook = $1 AND received_at < now() - make_interval(secs => $2)`,
				name, hookKeyRetention.Seconds()); err != nil {
				return fmt.Errorf("store: hook %s: forget old keys: %w", name, err)
			}
			tag, err := tx.tx.Exec(ctx, `INSERT INTO hook_deliveries (hook, key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, key)
			if err != nil {
				return fmt.Errorf("store: hook %s: record key: %w", name, err)
			}
			if tag.RowsAffected() == 0 {
				return nil
			}
		}
		stored = true
		// The same rule as HookAccess: allow_chats empty, or naming the chat, or the chat is
		// one of the hook's fixed chats.
		rows, err := tx.tx.Query(ctx, `
			SELECT s.chat_id, s.thread_id FROM subscriptions s JOIN chats c ON c.id = s.chat_id
			JOIN hooks h ON h.name = $2
			WHERE c.paused_at IS NULL AND $1::text = ANY(s.events)
			  AND (cardinality(h.allow_chats) = 0 OR s.chat_id = ANY(h.allow_chats)
			       OR EXISTS (SELECT FROM hook_seeded hs WHERE hs.hook = h.name AND hs.chat_id = s.chat_id))
			ORDER BY s.chat_id, s.thread_id`, HookEvent(name), name)
		if err != nil {
			return fmt.Errorf("store: hook %s: targets: %w", name, err)
		}
		var msgs []OutMessage
		var m OutMessage
		if _, err := pgx.ForEachRow(rows, []any{&m.ChatID, &m.ThreadID}, func() error {
			msgs = append(msgs, OutMessage{ChatID: m.ChatID, ThreadID: m.ThreadID, Text: text})
			return nil
		}); err != nil {
			return fmt.Errorf("store: hook %s: targets: %w", name, err)
		}
		return tx.Enqueue(ctx, msgs...)
	})
	if err != nil {
		return false, err
	}
	return stored, nil
}

// RecentBuilds returns the newest n completed builds of one builder of conn, newest first:
// a check hook's results, which only the history knows.
func (s *Store) RecentBuilds(ctx context.Context, conn, builder string, n int) ([]ci.Build, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+buildColumns+` FROM builds
		WHERE conn = $1 AND builder = $2 AND complete
		ORDER BY finished_at DESC, number DESC LIMIT $3`, conn, builder, max(n, 0))
	if err != nil {
		return nil, fmt.Errorf("store: recent builds of %s/%s: %w", conn, builder, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ci.Build, error) { return scanBuild(row) })
	if err != nil {
		return nil, fmt.Errorf("store: recent builds of %s/%s: %w", conn, builder, err)
	}
	return out, nil
}

// CheckSeen returns, for every builder (check) of conn, when its newest result finished and
// the one before it, for a check hook's silence watch.
func (s *Store) CheckSeen(ctx context.Context, conn string) ([]hook.Seen, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT l.builder, l.finished_at, p.finished_at
		FROM (SELECT DISTINCT ON (builder) builder, build_id, finished_at FROM builds
		      WHERE conn = $1 AND complete AND finished_at IS NOT NULL
		      ORDER BY builder, finished_at DESC, number DESC) l
		LEFT JOIN LATERAL (
			SELECT finished_at FROM builds p
			WHERE p.conn = $1 AND p.builder = l.builder AND p.complete AND p.build_id <> l.build_id
			  AND p.finished_at IS NOT NULL
			ORDER BY p.finished_at DESC, p.number DESC LIMIT 1) p ON true
		ORDER BY l.builder`, conn)
	if err != nil {
		return nil, fmt.Errorf("store: checks of %s: %w", conn, err)
	}
	var out []hook.Seen
	var (
		check  string
		last   time.Time
		before *time.Time
	)
	if _, err := pgx.ForEachRow(rows, []any{&check, &last, &before}, func() error {
		s := hook.Seen{Check: check, Last: last}
		if before != nil {
			s.Before = *before
		}
		out = append(out, s)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: checks of %s: %w", conn, err)
	}
	return out, nil
}
