package buildbot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// recorder is a sink that drops duplicates by key, as the real one does, and counts them.
type recorder struct {
	mu     sync.Mutex
	events []ci.Event
	seen   map[string]int
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}} }

func (r *recorder) Deliver(_ context.Context, ev ci.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[ev.Key()]++
	if r.seen[ev.Key()] == 1 {
		r.events = append(r.events, ev)
	}
	return nil
}

func (r *recorder) snapshot() []ci.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ci.Event(nil), r.events...)
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[key]
}

// waitFor waits, generously, until cond holds over the recorded events.
func (r *recorder) waitFor(t *testing.T, what string, cond func([]ci.Event) bool) []ci.Event {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		evs := r.snapshot()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; have %s", what, describe(evs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func describe(evs []ci.Event) string {
	var s []string
	for _, e := range evs {
		switch {
		case e.Build != nil:
			s = append(s, fmt.Sprintf("%s %s#%d %s", e.Kind, e.Build.Builder, e.Build.Number, e.Build.Result))
		case e.Worker != nil:
			s = append(s, fmt.Sprintf("worker %s %s", e.Worker.Name, e.WorkerState))
		}
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func buildEvents(evs []ci.Event, builder string) []ci.Event {
	var out []ci.Event
	for _, e := range evs {
		if e.Build != nil && e.Build.Builder == builder {
			out = append(out, e)
		}
	}
	return out
}

func newProvider(t *testing.T, m *buildbottest.Master, auth buildbot.Auth) *buildbot.Provider {
	t.Helper()
	p, err := buildbot.New(buildbot.Config{Name: "main", URL: m.URL(), Auth: auth, PollInterval: 2 * time.Second}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// watch follows the provider with a ci.Follower in the background until the returned stop
// is called (or the test ends).
func watch(t *testing.T, p *buildbot.Provider, since time.Time, sink ci.EventSink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ci.NewFollower(p, sink, since, ci.FollowOptions{}).Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestWatchReportsBuildsInOrder(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	p := newProvider(t, m, buildbot.Auth{})
	rec := newRecorder()
	watch(t, p, time.Now().Add(-time.Minute), rec)

	outcomes := []buildbottest.Outcome{buildbottest.Success, buildbottest.Failure, buildbottest.Success}
	for i, o := range outcomes {
		// Wait for the watch to be live (or catching up) before the first build: either way
		// every event must arrive.
		m.SetOutcome(buildbottest.BuilderToggle, o)
		m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
		m.WaitBuild(buildbottest.BuilderToggle, i+1)
	}
	evs := rec.waitFor(t, "six toggle events", func(evs []ci.Event) bool {
		return len(buildEvents(evs, buildbottest.BuilderToggle)) >= 6
	})
	got := buildEvents(evs, buildbottest.BuilderToggle)
	if len(got) != 6 {
		t.Fatalf("events = %s, want 6", describe(got))
	}
	builderID := m.BuilderID(buildbottest.BuilderToggle)
	want := []struct {
		kind   ci.Kind
		number int
		result ci.Result
		state  string
		failed string
	}{
		{ci.KindStarted, 1, ci.ResultNone, "", ""},
		{ci.KindFinished, 1, ci.ResultSuccess, "build successful", ""},
		{ci.KindStarted, 2, ci.ResultNone, "", ""},
		{ci.KindFinished, 2, ci.ResultFailure, "failed compile (failure)", "compile"},
		{ci.KindStarted, 3, ci.ResultNone, "", ""},
		{ci.KindFinished, 3, ci.ResultSuccess, "build successful", ""},
	}
	for i, w := range want {
		e := got[i]
		b := e.Build
		if e.Kind != w.kind || b.Number != w.number || b.Result != w.result {
			t.Errorf("event %d = %s #%d %q, want %s #%d %q", i, e.Kind, b.Number, b.Result, w.kind, w.number, w.result)
		}
		if e.Conn != "main" || b.Conn != "main" || b.Builder != "toggle" || b.Branch != "main" {
			t.Errorf("event %d: conn %q/%q builder %q branch %q", i, e.Conn, b.Conn, b.Builder, b.Branch)
		}
		wantURL := fmt.Sprintf("%s#/builders/%d/builds/%d", m.URL(), builderID, w.number)
		if b.URL != wantURL {
			t.Errorf("event %d: url %q, want %q", i, b.URL, wantURL)
		}
		if b.RequestID == "" || b.StartedAt.IsZero() || e.At.IsZero() {
			t.Errorf("event %d: request id %q, started %v, at %v", i, b.RequestID, b.StartedAt, e.At)
		}
		if w.kind == ci.KindFinished {
			if b.StateText != w.state || b.FailedStep != w.failed || !b.Complete || b.FinishedAt.IsZero() {
				t.Errorf("event %d: state %q failed step %q complete %v finished %v, want %q %q", i, b.StateText, b.FailedStep, b.Complete, b.FinishedAt, w.state, w.failed)
			}
		}
	}
}

func TestWatchCatchesUpAfterStop(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	p := newProvider(t, m, buildbot.Auth{})
	rec := newRecorder()
	since := time.Now().Add(-time.Minute)
	stop := watch(t, p, since, rec)
	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	rec.waitFor(t, "pass #1 finished", func(evs []ci.Event) bool { return hasEvent(evs, "pass", 1, ci.KindFinished) })

	// The build finishes while nobody watches.
	stop()
	m.Force(buildbottest.BuilderFail, map[string]any{"branch": "main"})
	b := m.WaitBuild(buildbottest.BuilderFail, 1)

	watch(t, p, since, rec)
	evs := rec.waitFor(t, "fail #1 finished", func(evs []ci.Event) bool { return hasEvent(evs, "fail", 1, ci.KindFinished) })
	key := fmt.Sprintf("main/build/%d/finished", b.ID)
	// Let any duplicate arrive before counting.
	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	rec.waitFor(t, "pass #2 finished", func(evs []ci.Event) bool { return hasEvent(evs, "pass", 2, ci.KindFinished) })
	if n := rec.count(key); n != 1 {
		t.Errorf("%s delivered %d times, want exactly once", key, n)
	}
	for _, e := range evs {
		if e.Build != nil && e.Build.Builder == "fail" && e.Kind == ci.KindFinished {
			if !e.CatchUp || e.Build.Result != ci.ResultFailure {
				t.Errorf("caught-up event: catch up %v result %q", e.CatchUp, e.Build.Result)
			}
		}
	}
}

func hasEvent(evs []ci.Event, builder string, number int, kind ci.Kind) bool {
	for _, e := range evs {
		if e.Build != nil && e.Build.Builder == builder && e.Build.Number == number && e.Kind == kind {
			return true
		}
	}
	return false
}

func TestWatchSurvivesMasterRestart(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	p := newProvider(t, m, buildbot.Auth{})
	rec := newRecorder()
	watch(t, p, time.Now().Add(-time.Minute), rec)
	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	rec.waitFor(t, "pass #1 finished", func(evs []ci.Event) bool { return hasEvent(evs, "pass", 1, ci.KindFinished) })

	m.StopMaster()
	m.StartMaster()
	m.StopWorker("w1") // the worker reconnects by itself, but slowly: restart it
	m.StartWorker("w1")
	m.Force(buildbottest.BuilderDocs, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderDocs, 1)
	evs := rec.waitFor(t, "docs-site #1 started and finished", func(evs []ci.Event) bool {
		return hasEvent(evs, "docs-site", 1, ci.KindStarted) && hasEvent(evs, "docs-site", 1, ci.KindFinished)
	})
	if n := len(buildEvents(evs, "pass")); n != 2 {
		t.Errorf("pass events = %d, want 2: %s", n, describe(evs))
	}
}

func TestWatchReportsMissingWorker(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{Workers: 2, MissingTimeout: 2 * time.Second})
	p := newProvider(t, m, buildbot.Auth{})
	rec := newRecorder()
	watch(t, p, time.Now().Add(-time.Minute), rec)
	// Make sure the watch is live before the worker leaves.
	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	rec.waitFor(t, "pass #1 finished", func(evs []ci.Event) bool { return hasEvent(evs, "pass", 1, ci.KindFinished) })

	m.StopWorker("w2")
	rec.waitFor(t, "w2 missing", func(evs []ci.Event) bool { return hasWorker(evs, "w2", ci.WorkerMissing) })
	m.StartWorker("w2")
	evs := rec.waitFor(t, "w2 online", func(evs []ci.Event) bool { return hasWorker(evs, "w2", ci.WorkerOnline) })
	for _, e := range evs {
		if e.Worker != nil && (e.Worker.Name != "w2" || e.Kind != ci.KindWorker || e.At.IsZero() || e.Conn != "main") {
			t.Errorf("unexpected worker event %+v", e)
		}
	}
}

func hasWorker(evs []ci.Event, name string, st ci.WorkerState) bool {
	for _, e := range evs {
		if e.Worker != nil && e.Worker.Name == name && e.WorkerState == st {
			return true
		}
	}
	return false
}
