package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/ci"
)

// ErrBadEvent means an event cannot be stored as it is: no connection, or a build event
// without a build id. The provider that sent it has a bug; storing it would break idempotency.
var ErrBadEvent = errors.New("store: malformed CI event")

// RecordEvent stores a raw CI event idempotently by ev.Key(): the merge stage
// (Tx.MergeEvent), ci.ClassifyEvent and the save stage (Tx.SaveEvent) in one call. A
// duplicate delivery changes nothing and comes back with isNew false, the id of the first
// delivery and the event as stored then (Derived included).
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
// events and so costs nothing here. Record one event per transaction: classification takes a
// lock per builder and branch until commit, so that two builds finishing at once are compared
// with each other and not both with the build before. A build event costs two round trips to
// Postgres, any other event one. On an error the transaction must roll back.
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

// batcher is a transaction that can also pipeline statements.
type batcher interface {
	querier
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

func recordEvent(ctx context.Context, q batcher, ev ci.Event) (ci.Event, int64, bool, error) {
	m, err := mergeEvent(ctx, q, ev)
	if err != nil {
		return ci.Event{}, 0, false, err
	}
	if m.Dup {
		return m.Event, m.ID, false, nil
	}
	m.Event = ci.ClassifyEvent(m.Event)
	id, isNew, err := saveEvent(ctx, q, m)
	if err != nil {
		return ci.Event{}, 0, false, err
	}
	if !isNew {
		return storedEvent(ctx, q, m.key)
	}
	return m.Event, id, true, nil
}

// MergedEvent is an event after the merge stage (Tx.MergeEvent), on its way to the save stage
// (Tx.SaveEvent) in the same transaction.
type MergedEvent struct {
	// Event is what is to be stored. For a build event its Build is the build as stored after
	// this event, merged with what earlier events said, and for a finished build Previous is
	// the build to compare it with (nil when there is none); Derived is empty until the
	// caller classifies it (ci.ClassifyEvent). With Dup it is the first delivery as stored.
	Event ci.Event
	// Dup says a delivery of the event's key is stored already: nothing was merged, and ID
	// is that delivery's id. Only build events know it here; any other event finds out in
	// SaveEvent.
	Dup bool
	ID  int64

	key   string
	build *buildRecord // nil for an event that is not a build's start or finish
}

// MergeEvent is the merge stage of a CI event: for a build's start or finish, one pipelined
// round trip takes the event key's lock, finds whether the key is stored already and, when
// not, merges the build into the history (a started event never un-finishes a build; a
// finished build takes the history lock of its builder and branch until commit and reads the
// previous comparable build). Any other event costs nothing here. The caller classifies the
// result and hands it to SaveEvent in the same transaction; on an error it must roll back.
func (tx *Tx) MergeEvent(ctx context.Context, ev ci.Event) (MergedEvent, error) {
	return mergeEvent(ctx, tx.tx, ev)
}

// SaveEvent is the save stage: it stores the event of m (classified by the caller) and
// returns its id. isNew is false when the key turned out to be stored already, which only an
// event that is not a build's can find here; its transaction then changes nothing.
func (tx *Tx) SaveEvent(ctx context.Context, m MergedEvent) (id int64, isNew bool, err error) {
	return saveEvent(ctx, tx.tx, m)
}

func mergeEvent(ctx context.Context, q batcher, ev ci.Event) (MergedEvent, error) {
	if err := checkEvent(ev); err != nil {
		return MergedEvent{}, err
	}
	ev.Derived, ev.Previous = nil, nil
	if ev.Build == nil || ev.Kind != ci.KindStarted && ev.Kind != ci.KindFinished {
		return MergedEvent{Event: ev, key: ev.Key()}, nil
	}
	r := newBuildRecord(ev)
	batch := &pgx.Batch{}
	r.queue(batch)
	br := q.SendBatch(ctx, batch)
	merged, dupID, dup, err := r.read(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: record event %s: %w", r.key, cerr)
	}
	if err != nil {
		return MergedEvent{}, err
	}
	return MergedEvent{Event: merged, Dup: dup, ID: dupID, key: r.key, build: r}, nil
}

func saveEvent(ctx context.Context, q querier, m MergedEvent) (int64, bool, error) {
	if m.Dup {
		return m.ID, false, nil
	}
	if m.key == "" {
		return 0, false, fmt.Errorf("%w: not merged (MergeEvent) before it is saved", ErrBadEvent)
	}
	if m.build != nil {
		sql, args, err := m.build.insert(m.Event)
		if err != nil {
			return 0, false, err
		}
		var id int64
		if err := q.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			return 0, false, fmt.Errorf("store: record event %s: %w", m.key, err)
		}
		return id, true, nil
	}
	ev := m.Event
	raw, err := json.Marshal(ev)
	if err != nil {
		return 0, false, fmt.Errorf("store: record event %s: encode: %w", m.key, err)
	}
	buildID := ""
	if ev.Build != nil {
		buildID = ev.Build.ID
	}
	// Nothing was merged: the insert alone decides what is new. A concurrent delivery of the
	// same key waits here for the first one's transaction and then finds the key taken.
	var id int64
	err = q.QueryRow(ctx, `
		INSERT INTO ci_events (key, conn, kind, build_id, payload, at)
		VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()))
		ON CONFLICT (key) DO NOTHING
		RETURNING id`,
		m.key, ev.Conn, string(ev.Kind), buildID, raw, nullTime(ev.At)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: record event %s: %w", m.key, err)
	}
	return id, true, nil
}

// buildRecord is a build event being recorded in two round trips, its payload written once,
// complete:
//
//  1. MergeEvent, one pipelined batch: lock the event's key; if no delivery of the key is
//     stored, merge the build into the history (taking, for a finished build, the history
//     lock of its builder and branch); read the merged build; read the previous comparable
//     build;
//  2. SaveEvent, after the caller's ci.ClassifyEvent: insert the event with what was derived.
//
// The key lock makes a concurrent delivery of the same key wait until the first one's
// transaction ends and then find it stored (or, after a rollback, not). Each statement of the
// batch runs with a snapshot taken when it starts, so the previous build is read after the
// history lock was granted: a build of the same builder and branch whose transaction held the
// lock has committed and is seen.
type buildRecord struct {
	ev       ci.Event
	key      string
	finished bool
	b        ci.Build // as the provider sent it, with Conn and Complete set
}

func newBuildRecord(ev ci.Event) *buildRecord {
	r := &buildRecord{ev: ev, key: ev.Key(), finished: ev.Kind == ci.KindFinished, b: *ev.Build}
	r.b.Conn = ev.Conn
	if r.finished {
		r.b.Complete = true
	}
	return r
}

// queue adds the statements of the first step to batch.
func (r *buildRecord) queue(batch *pgx.Batch) {
	b := r.b
	batch.Queue(`SELECT pg_advisory_xact_lock(hashtext('herald.events'), hashtext($1))`, r.key)
	batch.Queue(mergeBuildSQL,
		r.key, b.Conn, b.ID, b.Builder, b.BuilderID, b.Number, b.Branch, b.Revision, b.Owner, b.Author, b.Reason,
		nullTime(b.StartedAt), nullTime(b.FinishedAt), b.Complete, string(b.Result), b.StateText, b.FailedStep,
		b.URL, b.RequestID, r.finished, nullTime(r.ev.At), b.Attempt)
	batch.Queue(`SELECT `+buildColumns+` FROM builds WHERE conn = $1 AND build_id = $2`, b.Conn, b.ID)
	if r.finished {
		batch.Queue(previousBuildSQL, b.Conn, b.ID, judgingResults)
	}
}

// read reads what queue's statements answered: the event with its build merged and, for a
// finished build, the previous one (not yet classified), or, when dup, the event as the first
// delivery stored it, with that delivery's id.
func (r *buildRecord) read(br pgx.BatchResults) (stored ci.Event, dupID int64, dup bool, err error) {
	key, ev := r.key, r.ev
	if _, err := br.Exec(); err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: lock: %w", key, err)
	}
	var (
		firstID  *int64
		firstRaw []byte
		at       time.Time
		locks    int64
	)
	if err := br.QueryRow().Scan(&firstID, &firstRaw, &at, &locks); err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: save build %s: %w", key, r.b.ID, err)
	}
	if firstID != nil {
		stored, id, _, err := decodeStored(key, *firstID, firstRaw)
		return stored, id, true, err
	}
	merged, err := scanBuild(br.QueryRow())
	if err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: read build %s: %w", key, r.b.ID, err)
	}
	// What the provider says is running now is not history; keep it on the returned value.
	// So are the builder's tags, the revisions and the blame list: what this event's
	// messages and subscriptions (tag=) use, carried in the stored event, not in builds.
	merged.CurrentStep = r.b.CurrentStep
	merged.Tags, merged.Revisions, merged.Blamelist = r.b.Tags, r.b.Revisions, r.b.Blamelist
	if ev.At.IsZero() {
		ev.At = at
	}
	ev.Build = &merged
	if r.finished {
		prev, err := scanBuild(br.QueryRow())
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: previous build of %s: %w", key, merged.Builder, err)
		default:
			ev.Previous = &prev
		}
	}
	return ev, 0, false, nil
}

// insert is the save stage of a build event: the statement storing the classified event,
// returning its id.
// It has no ON CONFLICT: under the key lock the key is free, and if it were not, failing
// (and rolling back the build merged in the first step) is right.
func (r *buildRecord) insert(stored ci.Event) (string, []any, error) {
	raw, err := json.Marshal(stored)
	if err != nil {
		return "", nil, fmt.Errorf("store: record event %s: encode: %w", r.key, err)
	}
	return `
		INSERT INTO ci_events (key, conn, kind, build_id, payload, at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		[]any{r.key, stored.Conn, string(stored.Kind), r.b.ID, raw, stored.At}, nil
}

// mergeBuildSQL looks for a stored delivery of the event's key ($1) and, when there is
// none, writes the build and returns the event's time. An empty field never erases what an
// earlier event filled; a started event ($20 false) leaves a finished build alone; a
// finished build without a finish time gets the event's time. For a finished build it takes
// the history lock of the merged builder and branch, held until commit, so that of two
// builds finishing at once the second is compared with the first. The lock key is
// length-prefixed so ("a/b", "c") and ("a", "b/c") differ; a collision between two histories
// only makes them wait for each other. stored_at, what digests count by, follows the build
// until it is complete and then stays: when herald first stored it finished.
var mergeBuildSQL = `
	WITH d AS (SELECT id, payload FROM ci_events WHERE key = $1),
	b AS (
		INSERT INTO builds AS o (` + buildColumns + `)
		SELECT $2::text, $3::text, $4::text, $5::text, $6::integer, $7::text, $8::text, $9::text, $10::text, $11::text,
			$12::timestamptz,
			COALESCE($13::timestamptz, CASE WHEN $20::boolean THEN COALESCE($21::timestamptz, now()) END),
			$14::boolean, $15::text, $16::text, $17::text, $18::text, $19::text, $22::integer
		WHERE NOT EXISTS (SELECT FROM d)
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
			finished_at = CASE WHEN $20 THEN EXCLUDED.finished_at ELSE o.finished_at END,
			complete    = o.complete OR EXCLUDED.complete,
			result      = CASE WHEN $20 THEN EXCLUDED.result ELSE o.result END,
			state_text  = COALESCE(NULLIF(EXCLUDED.state_text, ''), o.state_text),
			failed_step = COALESCE(NULLIF(EXCLUDED.failed_step, ''), o.failed_step),
			url         = COALESCE(NULLIF(EXCLUDED.url, ''), o.url),
			request_id  = COALESCE(NULLIF(EXCLUDED.request_id, ''), o.request_id),
			attempt     = COALESCE(NULLIF(EXCLUDED.attempt, 0), o.attempt),
			stored_at   = CASE WHEN o.complete THEN o.stored_at ELSE clock_timestamp() END,
			updated_at  = now()
		WHERE $20 OR NOT o.complete
		RETURNING conn, builder, branch),
	l AS (
		SELECT pg_advisory_xact_lock(hashtext('herald.builds'), hashtext(
			length(conn) || ':' || conn || length(builder) || ':' || builder || length(branch) || ':' || branch))
		FROM b WHERE $20)
	SELECT d.id, d.payload, COALESCE($21::timestamptz, now()), (SELECT count(*) FROM l)
	FROM (VALUES (true)) AS one (x) LEFT JOIN d ON true`

// previousBuildSQL reads what the merged build $1/$2 is compared with: the newest comparable
// build of its builder and branch that finished before it (by finished_at, then number, then
// attempt: the runs of one build share its number and may finish in the same second).
// Comparable is ci.Comparable's set, $3 (judgingResults): a cancelled or skipped build is
// passed over like a retry. The NOT IN repeats the predicate of the builds_previous index so
// the planner uses it.
var previousBuildSQL = `
	SELECT ` + prefixed("p", buildColumns) + `
	FROM builds c CROSS JOIN LATERAL (
		SELECT ` + prefixed("p", buildColumns) + ` FROM builds p
		WHERE p.conn = c.conn AND p.builder = c.builder AND p.branch = c.branch
		  AND p.complete AND p.result NOT IN ('', 'retry') AND p.result = ANY($3::text[])
		  AND p.build_id <> c.build_id
		  AND (p.finished_at, p.number, p.attempt) < (c.finished_at, c.number, c.attempt)
		ORDER BY p.finished_at DESC, p.number DESC, p.attempt DESC
		LIMIT 1) p
	WHERE c.conn = $1 AND c.build_id = $2`

// judgingResults is ci.JudgingResults as the text array previousBuildSQL takes.
var judgingResults = func() []string {
	out := make([]string, len(ci.JudgingResults))
	for i, r := range ci.JudgingResults {
		out[i] = string(r)
	}
	return out
}()

// prefixed qualifies each of a comma-separated list of columns with alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
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
func storedEvent(ctx context.Context, q querier, key string) (ci.Event, int64, bool, error) {
	var id int64
	var raw []byte
	err := q.QueryRow(ctx, `SELECT id, payload FROM ci_events WHERE key = $1`, key).Scan(&id, &raw)
	if err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: read first delivery: %w", key, err)
	}
	return decodeStored(key, id, raw)
}

func decodeStored(key string, id int64, raw []byte) (ci.Event, int64, bool, error) {
	var stored ci.Event
	if err := json.Unmarshal(raw, &stored); err != nil {
		return ci.Event{}, 0, false, fmt.Errorf("store: record event %s: decode first delivery: %w", key, err)
	}
	return stored, id, false, nil
}

const buildColumns = `conn, build_id, builder, builder_id, number, branch, revision, owner, author, reason,
	started_at, finished_at, complete, result, state_text, failed_step, url, request_id, attempt`

// Cursor is where a provider starting up catches up from: the time of the newest build event
// stored for conn, the zero time when none was stored yet. It is in one clock, the CI's: a
// build event's time is the CI's time stamp of the start or finish (made plausible by the
// provider, see ci.PlausibleTime), which is what the provider's catch-up asks the CI about.
// Worker events carry herald's clock and so do not count. A time more than ci.MaxClockSkew
// ahead of the database's clock is passed over too, so an event stored before providers
// clamped their times cannot hold the cursor in the future, where every later build would be
// missed.
//
// It is derived from the events (one backward step of the ci_events_conn_at index) rather
// than kept in a row of its own: a row every event updates would make a connection's events
// commit one at a time, and a derived value cannot disagree with what is stored.
func (s *Store) Cursor(ctx context.Context, conn string) (time.Time, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `
		SELECT max(at) FROM ci_events
		WHERE conn = $1 AND kind = ANY($2::text[]) AND at <= now() + make_interval(secs => $3)`,
		conn, cursorKinds, ci.MaxClockSkew.Seconds()).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: cursor of %s: %w", conn, err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return *at, nil
}

// cursorKinds are the events whose time is the CI's.
var cursorKinds = []string{string(ci.KindStarted), string(ci.KindFinished)}

// PruneEvents forgets stored events older than maxAge. Their keys only guard against a
// redelivery, and catch-up never reaches back further than the cursor; the newest build event
// of each connection is kept, since the cursor is derived from it. Build history is kept.
func (s *Store) PruneEvents(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM ci_events e
		WHERE e.created_at < now() - make_interval(secs => $1)
		  AND e.at < (SELECT max(x.at) FROM ci_events x WHERE x.conn = e.conn AND x.kind = ANY($2::text[]))`,
		maxAge.Seconds(), cursorKinds)
	if err != nil {
		return 0, fmt.Errorf("store: prune events: %w", err)
	}
	return tag.RowsAffected(), nil
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
		&b.URL, &b.RequestID, &b.Attempt)
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
