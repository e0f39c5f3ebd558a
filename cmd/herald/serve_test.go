package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// watchRecorder is a provider followed by polling that records the cursor its first
// catch-up starts from (the follower asks from the cursor less the slack).
type watchRecorder struct {
	ci.Provider
	since chan time.Time
}

func (w *watchRecorder) Name() string { return "main" }

func (w *watchRecorder) Workers(context.Context) ([]ci.Worker, error) {
	return nil, ci.ErrUnsupported
}

func (w *watchRecorder) BuildsChangedSince(_ context.Context, since time.Time) ([]ci.Build, error) {
	select {
	case w.since <- since.Add(ci.DefaultCatchUpSlack):
	default: // a later poll
	}
	return nil, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A watcher whose cursor cannot be read at start waits for the database instead of
// catching up "from now", which would skip the builds that finished while herald was down.
func TestWatchRetriesTheCursor(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	last := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := st.Pool().Exec(ctx, `INSERT INTO ci_events (key, conn, kind, payload, at) VALUES ('k1', 'main', $1, '{}', $2)`,
		string(ci.KindFinished), last); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `ALTER TABLE ci_events RENAME TO ci_events_hidden`); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	p := &watchRecorder{since: make(chan time.Time, 1)}
	done := make(chan error, 1)
	go func() { done <- watch(ctx, st, p, nil, zerolog.New(logs)) }()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(logs.String(), "cannot read the CI cursor; retrying") {
		select {
		case since := <-p.since:
			t.Fatalf("watch started from %v without the cursor", since)
		case err := <-done:
			t.Fatalf("watch ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no retry logged")
		}
	}
	if _, err := st.Pool().Exec(ctx, `ALTER TABLE ci_events_hidden RENAME TO ci_events`); err != nil {
		t.Fatal(err)
	}
	select {
	case since := <-p.since:
		if !since.Equal(last) {
			t.Errorf("watch started from %v; want the cursor %v", since, last)
		}
	case err := <-done:
		t.Fatalf("watch ended: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("watch did not start once the cursor could be read")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch = %v after ctx ended; want nil", err)
	}
}

// unfollowable is a provider with neither a stream nor a change list.
type unfollowable struct{ ci.Provider }

func (unfollowable) Name() string { return "main" }
func (unfollowable) Kind() string { return "mute" }

// A CI that can be followed neither way is logged once and left be: its watcher does not end,
// which would stop herald, but waits for the end of herald.
func TestWatchLeavesAnUnfollowableCIBe(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- watch(ctx, st, unfollowable{}, nil, zerolog.New(logs)) }()
	const said = "this CI can neither stream events nor list changed builds"
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(logs.String(), said) {
		select {
		case err := <-done:
			t.Fatalf("watch ended while herald runs: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing logged")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch = %v after ctx ended; want nil", err)
	}
	if n := strings.Count(logs.String(), said); n != 1 {
		t.Errorf("logged %d times; want once: %s", n, logs.String())
	}
}

// The HTTP server has every limit, and the handlers' budget fits in the write timeout.
func TestHTTPServerLimits(t *testing.T) {
	srv := newHTTPServer(nil)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("a limit is missing: %+v", srv)
	}
	if srv.WriteTimeout < httpHandlerBudget+10*time.Second {
		t.Errorf("write timeout %v leaves no room after the handler budget %v", srv.WriteTimeout, httpHandlerBudget)
	}
}

// A part that ends while herald runs (here the follower of a CI connection) stops herald
// with an error, which run turns into exit status 1, instead of leaving it up and deaf.
func TestRunStopsWhenAPartEnds(t *testing.T) {
	tg := telegramtest.New(telegramtest.Options{Token: testToken})
	t.Cleanup(tg.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.yaml")
	yaml := fmt.Sprintf("telegram:\n  token: %s\n  api_url: %s\n  poll_timeout: 1s\ndatabase:\n  url: %s\nhttp:\n  listen: 127.0.0.1:0\nci:\n  - name: main\n    type: buildbot\n    url: http://127.0.0.1:1/\n",
		testToken, tg.URL(), storetest.NewURL(t))
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path, testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("lost the master for good")
	app := &App{Config: cfg, Log: zerolog.New(zerolog.NewTestWriter(t)), Getenv: testEnv(nil),
		watch: func(context.Context, *store.Store, ci.Provider, ci.EventSink, zerolog.Logger) error { return boom }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "the part under role ci:main stopped while herald was running") {
			t.Errorf("Run = %v; want the watcher's end", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("herald kept running without its CI watcher")
	}
}
