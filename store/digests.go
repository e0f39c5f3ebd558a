package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
)

// ScheduledDigest is a chat's (topic's) digest schedule and the end of its last period.
type ScheduledDigest struct {
	ChatKey
	Spec  string // robfig/cron spec, with its CRON_TZ=
	Empty bool   // send empty periods too
	Last  time.Time
}

// ScheduledDigests lists the digests of unpaused chats.
func (s *Store) ScheduledDigests(ctx context.Context) ([]ScheduledDigest, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.chat_id, s.thread_id, s.digest_spec, s.digest_empty, COALESCE(s.digest_last, s.updated_at)
		FROM chat_settings s JOIN chats c ON c.id = s.chat_id
		WHERE s.digest_spec <> '' AND c.paused_at IS NULL
		ORDER BY s.chat_id, s.thread_id`)
	if err != nil {
		return nil, fmt.Errorf("store: scheduled digests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ScheduledDigest, error) {
		var d ScheduledDigest
		err := r.Scan(&d.ChatID, &d.ThreadID, &d.Spec, &d.Empty, &d.Last)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: scheduled digests: %w", err)
	}
	return out, nil
}

// ClaimDigest claims the period of d that ends at due, in the caller's transaction: it
// moves the digest's last run from d.Last to due, and only if the digest is still as d
// says (same spec, same last run). Of two processes, or a process and its restart, trying
// the same period, the second waits for the first's row lock and then finds the last run
// moved: false, nothing to do. Queue the digest in the same transaction.
func (tx *Tx) ClaimDigest(ctx context.Context, d ScheduledDigest, due time.Time) (bool, error) {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE chat_settings SET digest_last = $5
		WHERE chat_id = $1 AND thread_id = $2 AND digest_spec = $3
		  AND COALESCE(digest_last, updated_at) = $4`,
		d.ChatID, d.ThreadID, d.Spec, d.Last, due)
	if err != nil {
		return false, fmt.Errorf("store: claim digest: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// BuilderCount is how one builder's builds of a period ended.
type BuilderCount struct {
	Conn, Builder string
	Builds        int
	Good, Bad     int // success or warnings; failure or exception
	Other         int // cancelled, skipped, retry
}

// Flaky is a builder and branch whose results flipped between good and bad in a period.
type Flaky struct {
	Conn, Builder, Branch string
	Flips                 int
}

// Digest is what a chat's digest reports of the period (From, To].
type Digest struct {
	From, To  time.Time
	Builders  []BuilderCount // by connection and builder
	Broken    []Breakage     // broken when the digest is made (and already at To), oldest first
	Recovered []ci.Build     // builds of the period that fixed their builder and branch
	Flaky     []Flaky        // at least two flips in the period
	Slowest   []ci.Build     // the longest builds of the period, longest first
}

// Empty says the period had no builds and nothing is broken.
func (d Digest) Empty() bool { return len(d.Builders) == 0 && len(d.Broken) == 0 }

// SlowestShown is how many of the slowest builds a digest names.
const SlowestShown = 3

// DigestReport is the digest of (from, to] for one chat (or topic), within its
// subscription's builder and branch filters. The period's builds are those herald stored
// finished in it (stored_at), not those the CI says finished in it: a build whose event
// came after the period's digest ran is counted by the next digest, never by none. The
// caller runs a period only DigestGrace after its end, so a transaction that stored a build
// just before the end has committed by then.
func (tx *Tx) DigestReport(ctx context.Context, key ChatKey, from, to time.Time) (Digest, error) {
	d := Digest{From: from, To: to}
	var builders, branches []string
	err := tx.tx.QueryRow(ctx, `SELECT builders, branches FROM subscriptions WHERE chat_id = $1 AND thread_id = $2`,
		key.ChatID, key.ThreadID).Scan(&builders, &branches)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Digest{}, fmt.Errorf("store: digest: subscription: %w", err)
	}
	covers := func(b ci.Build) bool { return anyGlob(builders, b.Builder) && anyGlob(branches, b.Branch) }

	rows, err := tx.tx.Query(ctx, `
		SELECT `+buildColumns+` FROM builds
		WHERE complete AND stored_at > $1 AND stored_at <= $2
		ORDER BY finished_at, number, attempt`, from, to)
	if err != nil {
		return Digest{}, fmt.Errorf("store: digest: builds: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ci.Build, error) { return scanBuild(r) })
	if err != nil {
		return Digest{}, fmt.Errorf("store: digest: builds: %w", err)
	}
	builds := slices.DeleteFunc(all, func(b ci.Build) bool { return !covers(b) })
	d.Builders = countBuilders(builds)
	d.Slowest = slowest(builds, SlowestShown)

	before, err := tx.resultsBefore(ctx, builds, from)
	if err != nil {
		return Digest{}, err
	}
	d.Recovered, d.Flaky = flips(builds, before)

	br, err := broken(ctx, tx.tx)
	if err != nil {
		return Digest{}, err
	}
	for _, b := range br {
		if covers(b.Broke) && !b.Broke.FinishedAt.After(to) {
			d.Broken = append(d.Broken, b)
		}
	}
	return d, nil
}

type history struct{ conn, builder, branch string }

func historyOf(b ci.Build) history { return history{b.Conn, b.Builder, b.Branch} }

// resultsBefore reads the result of the last comparable build stored by from of every
// builder and branch among builds (the state the previous digest ended with): what the
// first build of the period is compared with.
func (tx *Tx) resultsBefore(ctx context.Context, builds []ci.Build, from time.Time) (map[history]ci.Result, error) {
	var conns, names, branches []string
	seen := map[history]bool{}
	for _, b := range builds {
		if h := historyOf(b); !seen[h] {
			seen[h] = true
			conns, names, branches = append(conns, h.conn), append(names, h.builder), append(branches, h.branch)
		}
	}
	out := map[history]ci.Result{}
	if len(conns) == 0 {
		return out, nil
	}
	rows, err := tx.tx.Query(ctx, `
		SELECT DISTINCT ON (b.conn, b.builder, b.branch) b.conn, b.builder, b.branch, b.result
		FROM builds b JOIN unnest($1::text[], $2::text[], $3::text[]) AS h (c, n, r)
			ON b.conn = h.c AND b.builder = h.n AND b.branch = h.r
		WHERE b.complete AND b.result NOT IN ('', 'retry') AND b.result = ANY($4::text[]) AND b.stored_at <= $5
		ORDER BY b.conn, b.builder, b.branch, b.finished_at DESC, b.number DESC, b.attempt DESC`,
		conns, names, branches, judgingResults, from)
	if err != nil {
		return nil, fmt.Errorf("store: digest: results before: %w", err)
	}
	var (
		h history
		r string
	)
	_, err = pgx.ForEachRow(rows, []any{&h.conn, &h.builder, &h.branch, &r}, func() error {
		out[h] = ci.Result(r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: digest: results before: %w", err)
	}
	return out, nil
}

func countBuilders(builds []ci.Build) []BuilderCount {
	idx := map[[2]string]int{}
	var out []BuilderCount
	for _, b := range builds {
		k := [2]string{b.Conn, b.Builder}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, BuilderCount{Conn: b.Conn, Builder: b.Builder})
		}
		c := &out[i]
		c.Builds++
		switch {
		case good(b.Result):
			c.Good++
		case bad(b.Result):
			c.Bad++
		default:
			c.Other++
		}
	}
	slices.SortFunc(out, func(a, b BuilderCount) int {
		if a.Conn != b.Conn {
			return cmp.Compare(a.Conn, b.Conn)
		}
		return cmp.Compare(a.Builder, b.Builder)
	})
	return out
}

func slowest(builds []ci.Build, n int) []ci.Build {
	var timed []ci.Build
	for _, b := range builds {
		if !b.StartedAt.IsZero() && b.FinishedAt.After(b.StartedAt) {
			timed = append(timed, b)
		}
	}
	slices.SortStableFunc(timed, func(a, b ci.Build) int {
		return cmp.Compare(b.FinishedAt.Sub(b.StartedAt), a.FinishedAt.Sub(a.StartedAt))
	})
	if len(timed) > n {
		timed = timed[:n]
	}
	return timed
}

// flips walks each builder and branch's comparable results through the period (builds in
// order), starting from the result before it: a bad result followed by a good one is a
// recovery; two or more changes between good and bad make the builder flaky.
func flips(builds []ci.Build, before map[history]ci.Result) (recovered []ci.Build, flaky []Flaky) {
	last := map[history]ci.Result{}
	for h, r := range before {
		last[h] = r
	}
	count := map[history]int{}
	var order []history
	for _, b := range builds {
		if !slices.Contains(ci.JudgingResults, b.Result) {
			continue
		}
		h := historyOf(b)
		if _, ok := count[h]; !ok {
			order = append(order, h)
			count[h] = 0
		}
		prev, ok := last[h]
		last[h] = b.Result
		if !ok || good(prev) == good(b.Result) {
			continue
		}
		count[h]++
		if good(b.Result) {
			recovered = append(recovered, b)
		}
	}
	for _, h := range order {
		if count[h] >= 2 {
			flaky = append(flaky, Flaky{Conn: h.conn, Builder: h.builder, Branch: h.branch, Flips: count[h]})
		}
	}
	return recovered, flaky
}

func good(r ci.Result) bool { return r == ci.ResultSuccess || r == ci.ResultWarnings }
func bad(r ci.Result) bool  { return r == ci.ResultFailure || r == ci.ResultException }
