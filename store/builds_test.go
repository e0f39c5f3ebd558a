package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func minute(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func started(id, builder, branch string, number, at int) ci.Event {
	return ci.Event{Conn: "bb", Kind: ci.KindStarted, At: minute(at), Build: &ci.Build{
		ID: id, Builder: builder, Branch: branch, Number: number, StartedAt: minute(at),
		Revision: "rev" + id, Owner: "alice", URL: "http://ci/b/" + id,
	}}
}

func finished(id, builder, branch string, number int, result ci.Result, at int) ci.Event {
	return ci.Event{Conn: "bb", Kind: ci.KindFinished, At: minute(at), Build: &ci.Build{
		ID: id, Builder: builder, Branch: branch, Number: number,
		FinishedAt: minute(at), Complete: true, Result: result, StateText: string(result),
	}}
}

// attempt is ev with its build's attempt set.
func attempt(ev ci.Event, n int) ci.Event {
	b := *ev.Build
	b.Attempt = n
	ev.Build = &b
	return ev
}

func record(t *testing.T, s *store.Store, ev ci.Event) (ci.Event, int64, bool) {
	t.Helper()
	stored, id, isNew, err := s.RecordEvent(context.Background(), ev)
	if err != nil {
		t.Fatalf("RecordEvent(%s): %v", ev.Key(), err)
	}
	return stored, id, isNew
}

func countRows(t *testing.T, s *store.Store, table string) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRecordEventDuplicateIsNoOp(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	record(t, s, finished("1", "app", "main", 1, ci.ResultSuccess, 1))
	ev := finished("2", "app", "main", 2, ci.ResultFailure, 2)
	first, id1, new1 := record(t, s, ev)
	if !new1 {
		t.Fatal("first delivery: isNew = false")
	}
	before, err := s.BuildByID(ctx, "bb", "2")
	if err != nil {
		t.Fatal(err)
	}
	cursor, _ := s.Cursor(ctx, "bb")

	// The same event again, even with a later time stamp and other details, changes nothing.
	again := finished("2", "app", "main", 2, ci.ResultSuccess, 9)
	dup, id2, new2 := record(t, s, again)
	if new2 {
		t.Error("duplicate delivery: isNew = true")
	}
	if id2 != id1 {
		t.Errorf("duplicate id = %d, want the first delivery's %d", id2, id1)
	}
	if !reflect.DeepEqual(dup.Derived, first.Derived) || dup.Derived == nil {
		t.Errorf("duplicate Derived = %v, want the first delivery's %v", dup.Derived, first.Derived)
	}
	after, err := s.BuildByID(ctx, "bb", "2")
	if err != nil {
		t.Fatal(err)
	}
	if after.Result != ci.ResultFailure || !after.FinishedAt.Equal(before.FinishedAt) {
		t.Errorf("build after duplicate = %s at %v, want failure at %v", after.Result, after.FinishedAt, before.FinishedAt)
	}
	if c, _ := s.Cursor(ctx, "bb"); !c.Equal(cursor) {
		t.Errorf("cursor moved on a duplicate: %v → %v", cursor, c)
	}
	if n := countRows(t, s, "ci_events"); n != 2 {
		t.Errorf("ci_events has %d rows, want 2", n)
	}
}

// TestRecordEventClassifies replays a history with two branches built on one builder, builds
// that finish in another order than they started, a retry and a second builder, and checks
// what each finished build is classified as.
func TestRecordEventClassifies(t *testing.T) {
	s := storetest.New(t)
	type step struct {
		ev       ci.Event
		want     []ci.Kind // for finished events
		previous string    // build id of Previous, "" for none
	}
	steps := []step{
		{ev: started("1", "app", "main", 1, 0)},
		{ev: finished("1", "app", "main", 1, ci.ResultSuccess, 1), want: []ci.Kind{ci.KindSuccess}},
		{ev: started("2", "app", "feature", 2, 2)},
		{ev: started("3", "app", "main", 3, 3)},
		// The feature branch fails: its first build, nothing to compare with.
		{ev: finished("2", "app", "feature", 2, ci.ResultFailure, 4), want: []ci.Kind{ci.KindFailure}},
		{ev: started("4", "app", "main", 4, 5)},
		// #4 finishes before #3 and breaks main: a problem against #1.
		{ev: finished("4", "app", "main", 4, ci.ResultFailure, 6), want: []ci.Kind{ci.KindFailure, ci.KindProblem, ci.KindWorse}, previous: "1"},
		// Another builder in between changes nothing for app.
		{ev: finished("d1", "docs", "main", 1, ci.ResultSuccess, 7), want: []ci.Kind{ci.KindSuccess}},
		// #3 finishes last and is compared with #4, which finished before it.
		{ev: finished("3", "app", "main", 3, ci.ResultSuccess, 8), want: []ci.Kind{ci.KindSuccess, ci.KindRecovery, ci.KindBetter}, previous: "4"},
		// A retry is classified as nothing and never becomes the previous build.
		{ev: finished("5", "app", "feature", 5, ci.ResultRetry, 9), want: nil, previous: "2"},
		{ev: finished("6", "app", "feature", 6, ci.ResultWarnings, 10), want: []ci.Kind{ci.KindWarnings, ci.KindRecovery, ci.KindBetter}, previous: "2"},
		// Cancelled is worse than warnings, but not a problem.
		{ev: finished("7", "app", "feature", 7, ci.ResultCancelled, 11), want: []ci.Kind{ci.KindCancelled, ci.KindWorse}, previous: "6"},
		// ...and never the previous build: the failure after it breaks what #6 left working.
		{ev: finished("8", "app", "feature", 8, ci.ResultFailure, 12), want: []ci.Kind{ci.KindFailure, ci.KindProblem, ci.KindWorse}, previous: "6"},
		// Nor is a skipped one; then a cancelled one again, and the fix is a recovery from #8.
		{ev: finished("9", "app", "feature", 9, ci.ResultSkipped, 13), want: []ci.Kind{ci.KindBetter}, previous: "8"},
		{ev: finished("10", "app", "feature", 10, ci.ResultCancelled, 14), want: []ci.Kind{ci.KindCancelled, ci.KindWorse}, previous: "8"},
		{ev: finished("11", "app", "feature", 11, ci.ResultSuccess, 15), want: []ci.Kind{ci.KindSuccess, ci.KindRecovery, ci.KindBetter}, previous: "8"},
		// A build run again under its number (a GitHub attempt, a GitLab retry) whose second
		// run finishes in the same instant as its first is compared with the first.
		{ev: attempt(finished("12/1", "app", "main", 12, ci.ResultFailure, 16), 1), want: []ci.Kind{ci.KindFailure, ci.KindProblem, ci.KindWorse}, previous: "3"},
		{ev: attempt(finished("12/2", "app", "main", 12, ci.ResultSuccess, 16), 2), want: []ci.Kind{ci.KindSuccess, ci.KindRecovery, ci.KindBetter}, previous: "12/1"},
	}
	for i, st := range steps {
		got, _, isNew := record(t, s, st.ev)
		if !isNew {
			t.Fatalf("step %d: isNew = false", i)
		}
		if st.ev.Kind != ci.KindFinished {
			if got.Derived != nil || got.Previous != nil {
				t.Errorf("step %d (%s): Derived %v, Previous %v, want none", i, st.ev.Key(), got.Derived, got.Previous)
			}
			continue
		}
		if !reflect.DeepEqual(got.Derived, st.want) {
			t.Errorf("step %d (%s): Derived = %v, want %v", i, st.ev.Key(), got.Derived, st.want)
		}
		gotPrev := ""
		if got.Previous != nil {
			gotPrev = got.Previous.ID
		}
		if gotPrev != st.previous {
			t.Errorf("step %d (%s): Previous = %q, want %q", i, st.ev.Key(), gotPrev, st.previous)
		}
	}
}

func TestRecordEventMergesAndKeepsFinished(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	st := started("1", "app", "main", 1, 0)
	fin := finished("1", "app", "main", 1, ci.ResultFailure, 5)
	fin.Build.FailedStep = "compile"

	// The result arrives before the start (a catch-up after a disconnect, or two streams).
	record(t, s, fin)
	late, _, isNew := record(t, s, st)
	if !isNew {
		t.Fatal("late started: isNew = false")
	}
	if !late.Build.Complete || late.Build.Result != ci.ResultFailure {
		t.Errorf("late started returned build complete=%v result=%q, want the finished build", late.Build.Complete, late.Build.Result)
	}
	b, err := s.BuildByID(ctx, "bb", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Complete || b.Result != ci.ResultFailure || !b.FinishedAt.Equal(minute(5)) {
		t.Errorf("build after a late start: complete=%v result=%q finished=%v; a late start must not un-finish it",
			b.Complete, b.Result, b.FinishedAt)
	}

	// Fields only the started event had are not erased by the finished one, and the other
	// way round.
	s2 := storetest.New(t)
	st2 := started("1", "app", "main", 1, 0)
	st2.Build.Attempt = 2 // only the start says which attempt (a provider may say it once)
	record(t, s2, st2)
	record(t, s2, fin)
	b2, err := s2.BuildByID(ctx, "bb", "1")
	if err != nil {
		t.Fatal(err)
	}
	want := ci.Build{
		Conn: "bb", ID: "1", Builder: "app", Branch: "main", Number: 1, Revision: "rev1", Owner: "alice",
		URL: "http://ci/b/1", StartedAt: minute(0), FinishedAt: minute(5), Complete: true,
		Result: ci.ResultFailure, StateText: "failure", FailedStep: "compile", Attempt: 2,
	}
	b2.StartedAt, b2.FinishedAt = b2.StartedAt.UTC(), b2.FinishedAt.UTC()
	if !reflect.DeepEqual(b2, want) {
		t.Errorf("merged build:\n got %+v\nwant %+v", b2, want)
	}
}

func TestRecordEventRunningBuild(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	record(t, s, started("1", "app", "main", 1, 0))
	b, err := s.BuildByID(ctx, "bb", "1")
	if err != nil {
		t.Fatal(err)
	}
	if b.Complete || b.Result != ci.ResultNone || !b.FinishedAt.IsZero() {
		t.Errorf("running build stored as complete=%v result=%q finished=%v", b.Complete, b.Result, b.FinishedAt)
	}
	if _, err := s.BuildByID(ctx, "bb", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("BuildByID(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestCursor(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	c, err := s.Cursor(ctx, "bb")
	if err != nil || !c.IsZero() {
		t.Fatalf("Cursor before any event = %v, %v; want zero, nil", c, err)
	}
	record(t, s, started("1", "app", "main", 1, 3))
	record(t, s, finished("1", "app", "main", 1, ci.ResultSuccess, 7))
	if c, _ := s.Cursor(ctx, "bb"); !c.Equal(minute(7)) {
		t.Errorf("Cursor = %v, want %v", c, minute(7))
	}
	// An older event found by a catch-up does not move the cursor back.
	record(t, s, finished("0", "app", "main", 0, ci.ResultSuccess, 2))
	if c, _ := s.Cursor(ctx, "bb"); !c.Equal(minute(7)) {
		t.Errorf("Cursor after an older event = %v, want %v", c, minute(7))
	}
	// The cursor is in the CI's clock: a worker event, stamped by herald's, leaves it alone;
	// other connections have their own.
	w := ci.Event{Conn: "bb", Kind: ci.KindWorker, Worker: &ci.Worker{Name: "w1"}, WorkerState: ci.WorkerMissing, At: minute(9)}
	record(t, s, w)
	if c, _ := s.Cursor(ctx, "bb"); !c.Equal(minute(7)) {
		t.Errorf("Cursor after a worker event = %v, want %v (build events only)", c, minute(7))
	}
	if c, _ := s.Cursor(ctx, "other"); !c.IsZero() {
		t.Errorf("Cursor of another connection = %v, want zero", c)
	}
}

// A build event from the future (stored before providers clamped times, or by a provider that
// does not) cannot pin the cursor there: builds that finish later would never be caught up.
func TestCursorIgnoresTheFuture(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	recent := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ev := finished("1", "app", "main", 1, ci.ResultSuccess, 0)
	ev.At, ev.Build.FinishedAt = recent, recent
	record(t, s, ev)
	wrong := finished("2", "app", "main", 2, ci.ResultSuccess, 0)
	wrong.At = time.Now().Add(5 * 365 * 24 * time.Hour)
	wrong.Build.FinishedAt = wrong.At
	record(t, s, wrong)
	if c, err := s.Cursor(ctx, "bb"); err != nil || !c.Equal(recent) {
		t.Errorf("Cursor = %v, %v; want %v, the newest plausible event", c, err, recent)
	}
}

func TestLastCompleted(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	for _, ev := range []ci.Event{
		finished("a1", "app", "main", 1, ci.ResultSuccess, 1),
		finished("a3", "app", "feature", 3, ci.ResultFailure, 5),
		finished("a2", "app", "main", 2, ci.ResultWarnings, 3),
		finished("d1", "docs", "main", 1, ci.ResultSuccess, 2),
		started("d2", "docs", "main", 2, 4), // running: not "last completed"
		started("x1", "idle", "main", 1, 4),
	} {
		record(t, s, ev)
	}
	other := finished("o1", "app", "main", 1, ci.ResultFailure, 9)
	other.Conn = "other"
	record(t, s, other)

	got, err := s.LastCompleted(ctx, "bb")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if want := []string{"a3", "d1"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("LastCompleted = %v, want %v", ids, want)
	}
}

func TestRecordEventRejectsMalformed(t *testing.T) {
	s := storetest.New(t)
	for _, tt := range []struct {
		name string
		ev   ci.Event
	}{
		{"no connection", ci.Event{Kind: ci.KindStarted, Build: &ci.Build{ID: "1"}}},
		{"build event without build", ci.Event{Conn: "bb", Kind: ci.KindFinished}},
		{"build without id", ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &ci.Build{}}},
		{"worker event without worker", ci.Event{Conn: "bb", Kind: ci.KindWorker}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, _, err := s.RecordEvent(context.Background(), tt.ev); !errors.Is(err, store.ErrBadEvent) {
				t.Errorf("error = %v, want ErrBadEvent", err)
			}
		})
	}
}

// TestRecordEventInRolledBackTx checks that RecordEvent in a caller's transaction commits or
// rolls back with it: the event and the messages it causes go together.
func TestRecordEventInRolledBackTx(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.InTx(ctx, func(tx *store.Tx) error {
		if _, _, isNew, err := tx.RecordEvent(ctx, finished("1", "app", "main", 1, ci.ResultSuccess, 1)); err != nil || !isNew {
			t.Errorf("RecordEvent in tx: isNew=%v err=%v", isNew, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want boom", err)
	}
	if n := countRows(t, s, "ci_events") + countRows(t, s, "builds"); n != 0 {
		t.Errorf("%d rows left after rollback", n)
	}
	// Redelivered after the rollback, the event is new.
	if _, _, isNew := record(t, s, finished("1", "app", "main", 1, ci.ResultSuccess, 1)); !isNew {
		t.Error("redelivery after rollback: isNew = false")
	}
}

func TestRecordEventConcurrentDuplicates(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	record(t, s, finished("1", "app", "main", 1, ci.ResultSuccess, 1))
	const n = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh int
		ids   = map[int64]bool{}
		errs  []error
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			_, id, isNew, err := s.RecordEvent(ctx, finished("2", "app", "main", 2, ci.ResultFailure, 2))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ids[id] = true
			if isNew {
				fresh++
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if fresh != 1 {
		t.Errorf("%d deliveries were new, want exactly 1", fresh)
	}
	if len(ids) != 1 {
		t.Errorf("deliveries saw ids %v, want one id", ids)
	}
	if c := countRows(t, s, "ci_events"); c != 2 {
		t.Errorf("ci_events has %d rows, want 2", c)
	}
}

// BenchmarkRecordEvent measures storing a started and a finished event per build, classified
// against the history, spread over a few builders.
func BenchmarkRecordEvent(b *testing.B) {
	s := storetest.New(b)
	ctx := context.Background()
	results := []ci.Result{ci.ResultSuccess, ci.ResultFailure, ci.ResultWarnings}
	n := 0
	b.ResetTimer()
	for b.Loop() {
		builder := fmt.Sprintf("b%d", n%5)
		id := fmt.Sprint(n)
		var ev ci.Event
		if n%2 == 0 {
			ev = started(id, builder, "main", n, n)
		} else {
			ev = finished(fmt.Sprint(n-1), builder, "main", n-1, results[n%3], n)
		}
		if _, _, _, err := s.RecordEvent(ctx, ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// TestRecordEventWaitsForHistoryLock finishes build 2 while build 1 of the same builder and
// branch finished in a transaction still open: build 2 must wait for that commit and then be
// compared with build 1, not with build 0 before it. A finished event of another branch
// does not wait.
func TestRecordEventWaitsForHistoryLock(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	record(t, s, finished("0", "app", "main", 0, ci.ResultSuccess, 0))

	holding := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	defer let() // a failed assertion must not leave the first transaction open
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- s.InTx(ctx, func(tx *store.Tx) error {
			if _, _, _, err := tx.RecordEvent(ctx, finished("1", "app", "main", 1, ci.ResultFailure, 1)); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding

	// Another branch has a history of its own and goes through at once.
	other, _, _ := record(t, s, finished("f1", "app", "feature", 1, ci.ResultFailure, 2))
	if other.Previous != nil {
		t.Errorf("feature build compared with %s, want nothing", other.Previous.ID)
	}

	type result struct {
		ev  ci.Event
		err error
	}
	second := make(chan result, 1)
	go func() {
		ev, _, _, err := s.RecordEvent(ctx, finished("2", "app", "main", 2, ci.ResultSuccess, 3))
		second <- result{ev, err}
	}()
	// Wait until build 2's transaction waits for an advisory lock, then let build 1 commit.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-second:
			t.Fatalf("build 2 recorded while build 1's transaction was open: previous %v, err %v", r.ev.Previous, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("build 2 never waited for the history lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	let()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	r := <-second
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.ev.Previous == nil || r.ev.Previous.ID != "1" {
		t.Fatalf("build 2 compared with %v, want build 1", r.ev.Previous)
	}
	if want := []ci.Kind{ci.KindSuccess, ci.KindRecovery, ci.KindBetter}; !reflect.DeepEqual(r.ev.Derived, want) {
		t.Errorf("build 2 Derived = %v, want %v", r.ev.Derived, want)
	}
}

func TestPruneEventsKeepsTheCursor(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		ev := ci.Event{Conn: "main", Kind: ci.KindStarted, At: base.Add(time.Duration(i) * time.Minute),
			Build: &ci.Build{ID: fmt.Sprint(i), Number: i, Builder: "docs", StartedAt: base}}
		if _, _, _, err := s.RecordEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// Make them all old.
	if _, err := s.Pool().Exec(ctx, `UPDATE ci_events SET created_at = now() - interval '100 days'`); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneEvents(ctx, 90*24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("PruneEvents = %d, %v; want 2 pruned, the newest kept", n, err)
	}
	cur, err := s.Cursor(ctx, "main")
	if err != nil || !cur.Equal(base.Add(3*time.Minute)) {
		t.Fatalf("cursor after pruning = %v, %v; want %v", cur, err, base.Add(3*time.Minute))
	}
	if _, err := s.BuildByID(ctx, "main", "1"); err != nil {
		t.Fatalf("build history pruned with the events: %v", err)
	}
}
