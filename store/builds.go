package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
)

// ErrBadEvent means an event cannot be stored as it is: no connection, or a build event
// without a build id. The provider that sent it has a bug; storing it would break idempotency.
var ErrBadEvent = errors.New("store: malformed CI event")

// RecordEvent stores a raw CI event idempotently by ev.Key(). A duplicate delivery changes
// nothing and comes back with isNew false, the id of the first delivery and the event as
// stored then (Derived included).
//
// For a build event it also updates the build history: a started event records the build as
// running, unless it already finished (a late or replayed 'started' never un-finishes a
// build); a finished event records the result, then compares the build with the previous
// comparable build of the same builder and branch that finished before it (by finished_at,
// then number), and the returned event carries Derived = ci.Classify(prev, build) and
// Previous = prev. The returned event's Build is the build as stored after this event, merged
// with what earlier events said (a provider may leave a field empty that an earlier event
// filled), so for a late 'started' Build.Complete is already true. A finished build without
// FinishedAt gets the event's time.
//
// The stored event moves the connection's cursor (see Cursor), which is derived from the
// events and so costs nothing here. Record one event per transaction: classification takes a lock per builder and branch until commit, so that two
// builds finishing at once are compared with each other and not both with the build before.
func (tx *Tx) RecordEvent(ctx context.Context, ev ci.Event) (stored ci.Event, id int64, isNew bool, err error) {
	return recordEvent(ctx, tx.tx, ev)
}

// RecordEvent is Tx.RecordEvent in its own transaction.
func (s *Store) RecordEvent(ctx context.Context, ev ci.Event) (stored ci.Event, id int64, isNew bool, err error) {
	err = s.InTx(ctx, func(tx *Tx) error {
		var err error
		stored, id, isNew, err = tx.RecordEvent(ctx, ev)
		return err
	})
	if err != nil {
		return ci.Event{}, 0, false, err
	}
	return stored, id, isNew, nil
}

func recordEvent(ctx context.Context, q querier, ev ci.Event) (ci.Event, int64, bool, error) {
	if err := checkEvent(ev); err != nil {
		return ci.Event{}, 0, false, err
	}
	key := ev.Key()
	isBuild := ev.Build != nil && (ev.Kind == ci.KindStarted || ev.Kind == ci.KindFinished)
	if isBuild {
		b := *ev.Build
		b.Conn = ev.Conn
		if ev.Kind == ci.KindFinished {
			b.Complete = true
		}
		ev.Build = &b
	}
	ev.Derived, ev.Previous = nil, nil

	raw, err := json.Marshal(ev)
	if err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: encode: %w", key, err)
	}
	buildID := ""
	if ev.Build != nil {
		buildID = ev.Build.ID
	}
	// The insert decides what is new: a concurrent delivery of the same key waits here for
	// the first one's transaction and then finds the key taken.
	var id int64
	var at time.Time
	err = q.QueryRow(ctx, `
		INSERT INTO ci_events (key, conn, kind, build_id, payload, at)
		VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()))
		ON CONFLICT (key) DO NOTHING
		RETURNING id, at`,
		key, ev.Conn, string(ev.Kind), buildID, raw, nullTime(ev.At)).Scan(&id, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return storedEvent(ctx, q, key, ev)
	}
	if err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: %w", key, err)
	}
	if ev.At.IsZero() {
		ev.At = at
	}

	if isBuild {
		if ev.Kind == ci.KindFinished && ev.Build.FinishedAt.IsZero() {
			ev.Build.FinishedAt = at
		}
		b, err := upsertBuild(ctx, q, *ev.Build, ev.Kind == ci.KindFinished)
		if err != nil {
			return ci.Event{}, 0, false, err
		}
		ev.Build = &b
		if ev.Kind == ci.KindFinished {
			prev, found, err := previousBuild(ctx, q, b)
			if err != nil {
				return ci.Event{}, 0, false, err
			}
			if found {
				ev.Previous = &prev
			}
			ev.Derived = ci.Classify(ev.Previous, b)
		}
		raw, err = json.Marshal(ev)
		if err != nil {
			return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: encode: %w", key, err)
		}
		if _, err := q.Exec(ctx, `UPDATE ci_events SET payload = $2 WHERE id = $1`, id, raw); err != nil {
			return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: %w", key, err)
		}
	}
	return ev, id, true, nil
}

func checkEvent(ev ci.Event) error {
	switch {
	case ev.Conn == "":
		return fmt.Errorf("%w: no connection name", ErrBadEvent)
	case (ev.Kind == ci.KindStarted || ev.Kind == ci.KindFinished) && ev.Build == nil:
		return fmt.Errorf("%w: %s event without a build", ErrBadEvent, ev.Kind)
	case ev.Build != nil && ev.Build.ID == "":
		return fmt.Errorf("%w: %s event of a build without an id", ErrBadEvent, ev.Kind)
	case ev.Kind == ci.KindWorker && ev.Worker == nil:
		return fmt.Errorf("%w: worker event without a worker", ErrBadEvent)
	}
	return nil
}

// storedEvent answers a duplicate delivery with what the first delivery stored.
func storedEvent(ctx context.Context, q querier, key string, ev ci.Event) (ci.Event, int64, bool, error) {
	var id int64
	var raw []byte
	err := q.QueryRow(ctx, `SELECT id, payload FROM ci_events WHERE key = $1`, key).Scan(&id, &raw)
	if err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: read first delivery: %w", key, err)
	}
	var stored ci.Event
	if err := json.Unmarshal(raw, &stored); err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: decode first delivery: %w", key, err)
	}
	return stored, id, false, nil
}

const buildColumns = `conn, build_id, builder, builder_id, number, branch, revision, owner, author, reason,
	started_at, finished_at, complete, result, state_text, failed_step, url, request_id`

// upsertBuild writes b and returns the row as stored. An empty field never erases what an
// earlier event filled. A started event (finished false) leaves a finished build alone.
func upsertBuild(ctx context.Context, q querier, b ci.Build, finished bool) (ci.Build, error) {
	row := q.QueryRow(ctx, `
		INSERT INTO builds AS o (`+buildColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		ON CONFLICT (conn, build_id) DO UPDATE SET
			builder     = COALESCE(NULLIF(EXCLUDED.builder, ''), o.builder),
			builder_id  = COALESCE(NULLIF(EXCLUDED.builder_id, ''), o.builder_id),
			number      = COALESCE(NULLIF(EXCLUDED.number, 0), o.number),
			branch      = COALESCE(NULLIF(EXCLUDED.branch, ''), o.branch),
			revision    = COALESCE(NULLIF(EXCLUDED.revision, ''), o.revision),
			owner       = COALESCE(NULLIF(EXCLUDED.owner, ''), o.owner),
			author      = COALESCE(NULLIF(EXCLUDED.author, ''), o.author),
			reason      = COALESCE(NULLIF(EXCLUDED.reason, ''), o.reason),
			started_at  = COALESCE(EXCLUDED.started_at, o.started_at),
			finished_at = CASE WHEN $19 THEN EXCLUDED.finished_at ELSE o.finished_at END,
			complete    = o.complete OR EXCLUDED.complete,
			result      = CASE WHEN $19 THEN EXCLUDED.result ELSE o.result END,
			state_text  = COALESCE(NULLIF(EXCLUDED.state_text, ''), o.state_text),
			failed_step = COALESCE(NULLIF(EXCLUDED.failed_step, ''), o.failed_step),
			url         = COALESCE(NULLIF(EXCLUDED.url, ''), o.url),
			request_id  = COALESCE(NULLIF(EXCLUDED.request_id, ''), o.request_id),
			updated_at  = now()
		WHERE $19 OR NOT o.complete
		RETURNING `+buildColumns,
		b.Conn, b.ID, b.Builder, b.BuilderID, b.Number, b.Branch, b.Revision, b.Owner, b.Author, b.Reason,
		nullTime(b.StartedAt), nullTime(b.FinishedAt), b.Complete, string(b.Result), b.StateText, b.FailedStep,
		b.URL, b.RequestID, finished)
	out, err := scanBuild(row)
	if errors.Is(err, pgx.ErrNoRows) {
		// A started event for a build that already finished: the WHERE kept the row as is.
		return buildByID(ctx, q, b.Conn, b.ID)
	}
	if err != nil {
		return ci.Build{}, fmt.Errorf("store: save build %s/%s: %w", b.Conn, b.ID, err)
	}
	// What the provider says is running now is not history; keep it on the returned value.
	out.CurrentStep = b.CurrentStep
	return out, nil
}

// previousBuild finds what b is compared with. The advisory lock serialises classification
// per builder and branch until commit, so of two builds finishing at once the second one
// sees the first.
func previousBuild(ctx context.Context, q querier, b ci.Build) (prev ci.Build, found bool, err error) {
	if _, err := q.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('herald.builds'), $1::int4)`,
		historyLockKey(b)); err != nil {
		return ci.Build{}, false, fmt.Errorf("store: lock builder %s: %w", b.Builder, err)
	}
	prev, err = scanBuild(q.QueryRow(ctx, `
		SELECT `+buildColumns+` FROM builds
		WHERE conn = $1 AND builder = $2 AND branch = $3
		  AND complete AND result NOT IN ('', 'retry')
		  AND build_id <> $4
		  AND (finished_at, number) < ($5, $6)
		ORDER BY finished_at DESC, number DESC
		LIMIT 1`,
		b.Conn, b.Builder, b.Branch, b.ID, b.FinishedAt, b.Number))
	if errors.Is(err, pgx.ErrNoRows) {
		return ci.Build{}, false, nil
	}
	if err != nil {
		return ci.Build{}, false, fmt.Errorf("store: previous build of %s: %w", b.Builder, err)
	}
	return prev, true, nil
}

// historyLockKey names the history of one builder and branch for an advisory lock. The
// parts are length-prefixed so ("a/b", "c") and ("a", "b/c") differ; a collision between two
// histories only makes them wait for each other.
func historyLockKey(b ci.Build) int32 {
	h := fnv.New32a()
	for _, part := range []string{b.Conn, b.Builder, b.Branch} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return int32(h.Sum32())
}

// Cursor is the time of the newest event stored for conn, where a provider starting up
// catches up from; the zero time when none was stored yet. It is derived from the events
// (one backward step of the ci_events_conn_at index) rather than kept in a row of its own:
// a row every event updates would make a connection's events commit one at a time, and a
// derived value cannot disagree with what is stored.
func (s *Store) Cursor(ctx context.Context, conn string) (time.Time, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(at) FROM ci_events WHERE conn = $1`, conn).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: cursor of %s: %w", conn, err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return *at, nil
}

// LastCompleted returns the newest completed build of every builder of conn, by builder name,
// for /last without asking the CI.
func (s *Store) LastCompleted(ctx context.Context, conn string) ([]ci.Build, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (builder) `+buildColumns+` FROM builds
		WHERE conn = $1 AND complete
		ORDER BY builder, finished_at DESC, number DESC`, conn)
	if err != nil {
		return nil, fmt.Errorf("store: last builds of %s: %w", conn, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ci.Build, error) { return scanBuild(row) })
	if err != nil {
		return nil, fmt.Errorf("store: last builds of %s: %w", conn, err)
	}
	return out, nil
}

// BuildByID returns one build from the history; ErrNotFound when herald never heard of it.
func (s *Store) BuildByID(ctx context.Context, conn, buildID string) (ci.Build, error) {
	return buildByID(ctx, s.pool, conn, buildID)
}

func buildByID(ctx context.Context, q querier, conn, buildID string) (ci.Build, error) {
	b, err := scanBuild(q.QueryRow(ctx, `SELECT `+buildColumns+` FROM builds WHERE conn = $1 AND build_id = $2`, conn, buildID))
	if errors.Is(err, pgx.ErrNoRows) {
		return ci.Build{}, fmt.Errorf("store: build %s/%s: %w", conn, buildID, ErrNotFound)
	}
	if err != nil {
		return ci.Build{}, fmt.Errorf("store: build %s/%s: %w", conn, buildID, err)
	}
	return b, nil
}

func scanBuild(row pgx.Row) (ci.Build, error) {
	var b ci.Build
	var started, finished *time.Time
	var result string
	err := row.Scan(&b.Conn, &b.ID, &b.Builder, &b.BuilderID, &b.Number, &b.Branch, &b.Revision, &b.Owner,
		&b.Author, &b.Reason, &started, &finished, &b.Complete, &result, &b.StateText, &b.FailedStep,
		&b.URL, &b.RequestID)
	if err != nil {
		return ci.Build{}, err
	}
	if started != nil {
		b.StartedAt = *started
	}
	if finished != nil {
		b.FinishedAt = *finished
	}
	b.Result = ci.Result(result)
	return b, nil
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
