package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// hideTable makes every query on table fail, as a database that is not there yet would,
// until the returned function puts it back.
func hideTable(t *testing.T, st *store.Store, table string) (restore func()) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, "ALTER TABLE "+table+" RENAME TO "+table+"_hidden"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := st.Pool().Exec(ctx, "ALTER TABLE "+table+"_hidden RENAME TO "+table); err != nil {
			t.Fatal(err)
		}
	}
}

// waitLogOrEnd waits until logs have a line containing want; a part that returns first
// ended on the error instead of retrying.
func waitLogOrEnd(t *testing.T, logs *lineBuffer, want string, done <-chan error) {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		for _, l := range logs.lines() {
			if strings.Contains(l, want) {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("ended at start (%v) instead of retrying", err)
		case <-deadline:
			t.Fatalf("no log line %q", want)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestPollerRetriesTheOffsetAtStart(t *testing.T) {
	h := newHarness(t, nil, fastOptions())
	restore := hideTable(t, h.st, "telegram_offset")
	logs := &lineBuffer{}
	p := NewPoller(h.st, h.api, nil, h.tg.URL(), time.Second, zerolog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitLogOrEnd(t, logs, "cannot read the update offset at start; retrying", done)
	restore()
	waitFor(t, "getUpdates once the offset is read", func() bool {
		select {
		case err := <-done:
			t.Fatalf("poller ended: %v", err)
		default:
		}
		return h.tg.Calls("getUpdates") > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after ctx ended; want nil", err)
	}
}

func TestSenderRetriesItsStartupReads(t *testing.T) {
	for _, table := range []string{"outbox", "sent_log"} {
		t.Run(table, func(t *testing.T) {
			h := newHarness(t, fastLimits(), fastOptions())
			restore := hideTable(t, h.st, table)
			logs := &lineBuffer{}
			opts := h.opts
			opts.Health = NewHealth(nil)
			s := NewSender(h.st, h.api, opts, zerolog.New(logs))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			waitLogOrEnd(t, logs, "at start; retrying", done)
			if ready, problems := opts.Health.Check(); ready || len(problems) != 1 || !strings.HasPrefix(problems[0], "sender: start-up reads not done") {
				t.Errorf("while the %s table is away: ready %v, %q; want not ready, the sender named", table, ready, problems)
			}
			restore()
			enqueueN(t, h.st, []int64{9}, 2)
			wantExactly(t, h.tg, 9, expected(9, 2))
			if ready, problems := opts.Health.Check(); !ready {
				t.Errorf("after the sender started and sent: not ready: %q", problems)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v after ctx ended; want nil", err)
			}
		})
	}
}

// An idle sender cannot be judged; a poller or sender that last failed to reach Telegram is
// not ready, nor a poller silent for longer than its long polls take.
func TestHealth(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewHealth(func() time.Time { return now })
	if ok, p := h.Check(); !ok {
		t.Errorf("empty: %v", p)
	}
	h.Expect("poller", time.Minute)
	if ok, p := h.Check(); ok || p[0] != "poller: no contact with Telegram yet" {
		t.Errorf("expected poller before contact: %v %v", ok, p)
	}
	h.OK("poller")
	h.Failed("sender")
	if ok, p := h.Check(); ok || len(p) != 1 || p[0] != "sender: cannot reach Telegram (last success: never)" {
		t.Errorf("sender failing: %v %v", ok, p)
	}
	now = now.Add(5 * time.Second)
	h.OK("sender")
	if ok, p := h.Check(); !ok {
		t.Errorf("both fine: %v", p)
	}
	now = now.Add(10 * time.Second)
	h.Failed("poller")
	if ok, p := h.Check(); ok || p[0] != "poller: cannot reach Telegram (last success: 15s ago)" {
		t.Errorf("poller failing: %v %v", ok, p)
	}
	h.OK("poller")
	now = now.Add(2 * time.Minute)
	if ok, p := h.Check(); ok || len(p) != 1 || p[0] != "poller: no answer from Telegram for 2m0s" {
		t.Errorf("poller stale: %v %v", ok, p)
	}
	var none *Health
	none.OK("x") // a part without health reporting
}
