package bot

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// outage is a database of the test's own that the test can take away from herald: no new
// connections, and the ones herald holds cut.
type outage struct {
	st    *store.Store
	h     *harness
	allow func(bool)
	cut   func()
}

func newOutage(t *testing.T) *outage {
	t.Helper()
	ctx := context.Background()
	dbURL := storetest.NewURL(t)
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dbURL)
	dbName := strings.TrimPrefix(u.Path, "/")
	admin, err := pgx.Connect(ctx, storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) })
	o := &outage{st: st}
	o.allow = func(allow bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{dbName}.Sanitize()+" WITH ALLOW_CONNECTIONS "+map[bool]string{true: "true", false: "false"}[allow]); err != nil {
			t.Fatal(err)
		}
	}
	o.cut = func() {
		t.Helper()
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { o.allow(true) }) // storetest drops the database after this

	tg := telegramtest.New(telegramtest.Options{Token: testToken, Limits: fastLimits()})
	t.Cleanup(tg.Close)
	api, err := tgbot.New(testToken, tgbot.WithServerURL(tg.URL()), tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(time.Second, &http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	o.h = &harness{st: st, tg: tg, api: api, opts: fastOptions()}
	return o
}

// TestCommandSurvivesDatabaseOutage is item 6 of issue 8: the database goes away while a
// command runs (every connection of herald's is cut and no new one is let in), so its answer
// cannot be stored. The intake tries again in-process, with backoff, and when the database is
// back the command is answered — once, and without running the command a second time.
func TestCommandSurvivesDatabaseOutage(t *testing.T) {
	ctx := context.Background()
	o := newOutage(t)
	st := o.st
	started, proceed := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	handler := handlerMap{"deploy": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		if runs.Add(1) == 1 {
			close(started)
			<-proceed
		}
		return commands.Say("deployed"), nil
	}}
	r := startIntake(t, o.h, handler, IntakeOptions{RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond})
	r.tg.SendText(telegramtest.PrivateChat(ann), ann, "/deploy")
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the command did not start")
	}

	// The outage: no new connections, and the ones herald holds are cut.
	o.allow(false)
	o.cut()
	close(proceed)
	waitFor(t, "the intake to fail", func() bool {
		return strings.Contains(r.logs.String(), "update not handled")
	})
	o.allow(true)

	msgs := waitMessages(t, r.tg, ann.ID, 1)
	if msgs[0].Text != "deployed" {
		t.Errorf("answer %q", msgs[0].Text)
	}
	waitFor(t, "every update handled", func() bool {
		ups, err := st.PendingUpdates(ctx, 0, 10)
		return err == nil && len(ups) == 0
	})
	waitFor(t, "empty outbox", outboxEmpty(t, st))
	if n := len(r.tg.Messages(ann.ID)); n != 1 {
		t.Errorf("%d answers, want 1", n)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the command ran %d times, want once: a retry stores the answer it has", n)
	}
}

// TestHandlerFailsInDatabaseOutage is the other half of item 6: the handler itself reads the
// database while it is away and fails. That is not the command's fault, and "internal error"
// (committed as handled) would lose it: the update is tried again from the start, with
// backoff, and answered once the database is back.
func TestHandlerFailsInDatabaseOutage(t *testing.T) {
	ctx := context.Background()
	o := newOutage(t)
	started, proceed := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	handler := handlerMap{"watch": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		if runs.Add(1) == 1 {
			close(started)
			<-proceed
		}
		if _, err := o.st.Offset(ctx); err != nil { // a handler's own read of the database
			return commands.Response{}, fmt.Errorf("commands: watch: %w", err)
		}
		return commands.Say("watching"), nil
	}}
	r := startIntake(t, o.h, handler, IntakeOptions{RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond})
	r.tg.SendText(telegramtest.PrivateChat(ann), ann, "/watch")
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the command did not start")
	}
	o.allow(false)
	o.cut()
	close(proceed)
	waitFor(t, "the intake to fail", func() bool {
		return strings.Contains(r.logs.String(), "update not handled")
	})
	o.allow(true)

	msgs := waitMessages(t, r.tg, ann.ID, 1)
	if got := seen(t, msgs[0]); got != "watching" {
		t.Errorf("answer %q, want watching (not an internal error)", got)
	}
	waitFor(t, "every update handled", func() bool {
		ups, err := o.st.PendingUpdates(ctx, 0, 10)
		return err == nil && len(ups) == 0
	})
	waitFor(t, "empty outbox", outboxEmpty(t, o.st))
	if n := len(r.tg.Messages(ann.ID)); n != 1 {
		t.Errorf("%d answers, want 1", n)
	}
	if n := runs.Load(); n < 2 {
		t.Errorf("the command ran %d times, want it run again after the outage", n)
	}
}

// TestIntakeNotReadyBeforeItsStartupRead is item 7 for the intake: until it has read what a
// previous run left unhandled (the database may not be up yet), it does nothing, and
// /readyz must say so; once the read works, it is ready.
func TestIntakeNotReadyBeforeItsStartupRead(t *testing.T) {
	o := newOutage(t)
	o.allow(false)
	o.cut()
	health := NewHealth(nil)
	in := NewIntake(o.st, o.h.api, handlerMap{}, func() string { return "herald_bot" },
		IntakeOptions{Health: health, RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}, zerolog.New(zerolog.NewTestWriter(t)))
	if ready, _ := health.Check(); ready {
		t.Fatal("ready before the intake ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = in.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(500 * time.Millisecond)
	if ready, problems := health.Check(); ready || len(problems) != 1 || !strings.HasPrefix(problems[0], "intake: start-up reads not done") {
		t.Errorf("while the database is away: ready %v, %q; want not ready, the intake named", ready, problems)
	}
	o.allow(true)
	waitFor(t, "ready", func() bool { ready, _ := health.Check(); return ready })
}

// TestStoredUpdateIsPickedUp: an update that is stored but never reached this intake's
// memory (another replica's webhook stored it and died, a queue read back only in part) is
// found by the periodic sweep and handled, without waiting for a restart.
func TestStoredUpdateIsPickedUp(t *testing.T) {
	handler := handlerMap{"ping": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		return commands.Say("pong"), nil
	}}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{SweepInterval: 200 * time.Millisecond})
	raw := `{"update_id":777,"message":{"message_id":1,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"Ann"},
		"chat":{"id":42,"type":"private","first_name":"Ann"},"text":"/ping","entities":[{"type":"bot_command","offset":0,"length":5}]}}`
	// A first command through the poller: by its answer the intake is well past its start.
	r.tg.SendText(telegramtest.PrivateChat(ann), ann, "/ping")
	waitMessages(t, r.tg, ann.ID, 1)
	if err := r.st.SaveUpdate(context.Background(), store.Update{ID: 777, ChatID: 42, Payload: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	msgs := waitMessages(t, r.tg, ann.ID, 2)
	if msgs[1].Text != "pong" {
		t.Errorf("answer %q", msgs[1].Text)
	}
}
