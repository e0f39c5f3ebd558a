package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
)

// Breakage is a builder and branch whose newest comparable build failed. It is named by the
// build that broke it, the first failing build after the last good one, so that a builder
// fixed and broken again is a new breakage: its reminders start over, an old ack does not
// silence it.
type Breakage struct {
	Broke  ci.Build // the build that broke it: since when (FinishedAt), by whom (Author, Owner)
	Latest ci.Build // the newest failing build (Broke itself when only one failed since)
}

// Since is when the builder broke.
func (b Breakage) Since() time.Time { return b.Broke.FinishedAt }

// brokenSQL finds every breakage: for each builder and branch its newest comparable build
// ("last", the same set the previous-build query compares with, ci.JudgingResults $1), when
// that failed, with the first failure after the last good build.
var brokenSQL = `
	WITH last AS (
		SELECT DISTINCT ON (conn, builder, branch) ` + buildColumns + `
		FROM builds
		WHERE complete AND result NOT IN ('', 'retry') AND result = ANY($1::text[])
		ORDER BY conn, builder, branch, finished_at DESC, number DESC, attempt DESC)
	SELECT ` + prefixed("f", buildColumns) + `, ` + prefixed("l", buildColumns) + `
	FROM last l CROSS JOIN LATERAL (
		SELECT ` + buildColumns + ` FROM builds b
		WHERE b.conn = l.conn AND b.builder = l.builder AND b.branch = l.branch
		  AND b.complete AND b.result IN ('failure', 'exception')
		  AND NOT EXISTS (
			SELECT FROM builds g
			WHERE g.conn = b.conn AND g.builder = b.builder AND g.branch = b.branch
			  AND g.complete AND g.result IN ('success', 'warnings')
			  AND (g.finished_at, g.number, g.attempt) > (b.finished_at, b.number, b.attempt))
		ORDER BY b.finished_at, b.number, b.attempt
		LIMIT 1) f
	WHERE l.result IN ('failure', 'exception')
	ORDER BY f.finished_at, f.conn, f.builder, f.branch`

// Broken lists every breakage now, oldest first.
func (s *Store) Broken(ctx context.Context) ([]Breakage, error) {
	return broken(ctx, s.pool)
}

func broken(ctx context.Context, q querier) ([]Breakage, error) {
	rows, err := q.Query(ctx, brokenSQL, judgingResults)
	if err != nil {
		return nil, fmt.Errorf("store: broken builders: %w", err)
	}
	var out []Breakage
	var f, l buildScan
	dest := append(f.dest(), l.dest()...)
	_, err = pgx.ForEachRow(rows, dest, func() error {
		out = append(out, Breakage{Broke: f.build(), Latest: l.build()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: broken builders: %w", err)
	}
	return out, nil
}

// buildScan receives one build's columns (buildColumns) when a row holds more than one.
type buildScan struct {
	b                 ci.Build
	started, finished *time.Time
	result            string
}

func (s *buildScan) dest() []any {
	b := &s.b
	return []any{&b.Conn, &b.ID, &b.Builder, &b.BuilderID, &b.Number, &b.Branch, &b.Revision, &b.Owner,
		&b.Author, &b.Reason, &s.started, &s.finished, &b.Complete, &s.result, &b.StateText, &b.FailedStep,
		&b.URL, &b.RequestID, &b.Attempt}
}

func (s *buildScan) build() ci.Build {
	b := s.b
	if s.started != nil {
		b.StartedAt = *s.started
	}
	if s.finished != nil {
		b.FinishedAt = *s.finished
	}
	b.Result = ci.Result(s.result)
	return b
}

// Reminder is what one chat (or topic) is to be reminded of now.
type Reminder struct {
	ChatKey
	Every     time.Duration
	Breakages []Breakage
}

// remindChat is a chat with reminders on, and the filters of its subscription.
type remindChat struct {
	ChatKey
	every              time.Duration
	builders, branches []string
}

// DueReminders claims, in the caller's transaction, the reminders due at now: for every
// unpaused chat with /remind on, the breakages its subscription's builder and branch filters
// cover that are older than its interval, not acked, and not reminded of within the
// interval. Claiming records now as their last reminder, so queue the reminders in the same
// transaction: they are then sent once per interval, by whichever process holds the job,
// and a rollback gives the claim back.
func (tx *Tx) DueReminders(ctx context.Context, now time.Time) ([]Reminder, error) {
	rows, err := tx.tx.Query(ctx, `
		SELECT s.chat_id, s.thread_id, s.remind_every, COALESCE(sub.builders, '{}'), COALESCE(sub.branches, '{}')
		FROM chat_settings s JOIN chats c ON c.id = s.chat_id
		LEFT JOIN subscriptions sub ON sub.chat_id = s.chat_id AND sub.thread_id = s.thread_id
		WHERE s.remind_every > 0 AND c.paused_at IS NULL
		ORDER BY s.chat_id, s.thread_id`)
	if err != nil {
		return nil, fmt.Errorf("store: due reminders: %w", err)
	}
	var chats []remindChat
	var (
		c    remindChat
		secs int
	)
	_, err = pgx.ForEachRow(rows, []any{&c.ChatID, &c.ThreadID, &secs, &c.builders, &c.branches}, func() error {
		c.every = time.Duration(secs) * time.Second
		chats = append(chats, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: due reminders: %w", err)
	}
	if len(chats) == 0 {
		return nil, nil
	}
	all, err := broken(ctx, tx.tx)
	if err != nil {
		return nil, err
	}
	var out []Reminder
	for _, c := range chats {
		byKey := map[[2]string]Breakage{}
		var conns, ids []string
		for _, b := range all {
			if !anyGlob(c.builders, b.Broke.Builder) || !anyGlob(c.branches, b.Broke.Branch) || now.Sub(b.Since()) < c.every {
				continue
			}
			byKey[[2]string{b.Broke.Conn, b.Broke.ID}] = b
			conns, ids = append(conns, b.Broke.Conn), append(ids, b.Broke.ID)
		}
		if len(ids) == 0 {
			continue
		}
		claimed, err := tx.claimReminders(ctx, c, conns, ids, now)
		if err != nil {
			return nil, err
		}
		if len(claimed) == 0 {
			continue
		}
		r := Reminder{ChatKey: c.ChatKey, Every: c.every}
		for _, b := range all { // oldest first, as Broken orders them
			if claimed[[2]string{b.Broke.Conn, b.Broke.ID}] {
				r.Breakages = append(r.Breakages, byKey[[2]string{b.Broke.Conn, b.Broke.ID}])
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// claimReminders records now as the last reminder of the chat's breakages that are due: not
// acked and not reminded of within the interval. It returns those it claimed.
func (tx *Tx) claimReminders(ctx context.Context, c remindChat, conns, ids []string, now time.Time) (map[[2]string]bool, error) {
	rows, err := tx.tx.Query(ctx, `
		INSERT INTO breakage_reminders AS r (chat_id, thread_id, conn, build_id, reminded_at)
		SELECT $1, $2, x.c, x.b, $5 FROM unnest($3::text[], $4::text[]) AS x (c, b)
		ON CONFLICT (chat_id, thread_id, conn, build_id) DO UPDATE SET reminded_at = EXCLUDED.reminded_at
		WHERE r.acked_at IS NULL AND (r.reminded_at IS NULL OR r.reminded_at <= $5::timestamptz - make_interval(secs => $6))
		RETURNING conn, build_id`,
		c.ChatID, c.ThreadID, conns, ids, now, c.every.Seconds())
	if err != nil {
		return nil, fmt.Errorf("store: claim reminders: %w", err)
	}
	out := map[[2]string]bool{}
	var k [2]string
	_, err = pgx.ForEachRow(rows, []any{&k[0], &k[1]}, func() error {
		out[k] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim reminders: %w", err)
	}
	return out, nil
}

// AckBuild silences the reminders of the breakage build buildID of conn started, for one
// chat (or topic): the Ack button under a problem message names the build that broke it.
// It returns the build's builder; found is false when herald never heard of the build.
func (s *Store) AckBuild(ctx context.Context, chatID, threadID int64, conn, buildID string, byUser int64, byName string, at time.Time) (builder string, found bool, err error) {
	b, err := buildByID(ctx, s.pool, conn, buildID)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: ack: %w", err)
	}
	if err := ack(ctx, s.pool, chatID, threadID, []string{conn}, []string{buildID}, byUser, byName, at); err != nil {
		return "", false, err
	}
	return b.Builder, true, nil
}

// AckBroken silences the reminders of every current breakage of builder (on conn, or on any
// connection when conn is ""), for one chat (or topic), and returns the branches it acked,
// none when the builder is not broken.
func (s *Store) AckBroken(ctx context.Context, chatID, threadID int64, conn, builder string, byUser int64, byName string, at time.Time) (branches []string, err error) {
	all, err := broken(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	var conns, ids []string
	for _, b := range all {
		if b.Broke.Builder == builder && (conn == "" || b.Broke.Conn == conn) {
			conns, ids = append(conns, b.Broke.Conn), append(ids, b.Broke.ID)
			branches = append(branches, b.Broke.Branch)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := ack(ctx, s.pool, chatID, threadID, conns, ids, byUser, byName, at); err != nil {
		return nil, err
	}
	return branches, nil
}

func ack(ctx context.Context, q querier, chatID, threadID int64, conns, ids []string, byUser int64, byName string, at time.Time) error {
	_, err := q.Exec(ctx, `
		INSERT INTO breakage_reminders AS r (chat_id, thread_id, conn, build_id, acked_at, acked_by, acked_name)
		SELECT $1, $2, x.c, x.b, $5, $6, $7 FROM unnest($3::text[], $4::text[]) AS x (c, b)
		ON CONFLICT (chat_id, thread_id, conn, build_id) DO UPDATE
		SET acked_at = EXCLUDED.acked_at, acked_by = EXCLUDED.acked_by, acked_name = EXCLUDED.acked_name
		WHERE r.acked_at IS NULL`,
		chatID, threadID, conns, ids, at, byUser, byName)
	return settingErr("ack", err)
}

// PruneReminders forgets the reminders and acks of breakages that are over (their builder
// was fixed: a new breakage is a new row, so nothing reads the old one again) and that saw
// neither a reminder nor an ack for maxAge. A current breakage keeps its row whatever its
// age, or an acked one would start reminding again; the age spares a breakage that began
// after Broken was read.
func (s *Store) PruneReminders(ctx context.Context, maxAge time.Duration) (int64, error) {
	all, err := broken(ctx, s.pool)
	if err != nil {
		return 0, fmt.Errorf("store: prune reminders: %w", err)
	}
	conns, ids := make([]string, len(all)), make([]string, len(all))
	for i, b := range all {
		conns[i], ids[i] = b.Broke.Conn, b.Broke.ID
	}
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM breakage_reminders r
		WHERE GREATEST(r.reminded_at, r.acked_at) < now() - make_interval(secs => $1)
		  AND (r.conn, r.build_id) NOT IN (SELECT x.c, x.b FROM unnest($2::text[], $3::text[]) AS x (c, b))`,
		maxAge.Seconds(), conns, ids)
	if err != nil {
		return 0, fmt.Errorf("store: prune reminders: %w", err)
	}
	return tag.RowsAffected(), nil
}
