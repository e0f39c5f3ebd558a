package bot

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestPlanTarget is the card rules, each draft rendered (Render) to check its text.
func TestPlanTarget(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	started := ci.Event{Conn: "bb", Kind: ci.KindStarted, Build: &ci.Build{ID: "7", Number: 3, Builder: "linux"}}
	fin := func(r ci.Result, derived ...ci.Kind) ci.Event {
		return ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: derived,
			Build: &ci.Build{ID: "7", Number: 3, Builder: "linux", Result: r, Complete: true}}
	}
	type want struct {
		card, cardOnly, silent bool
		text                   string
		stop                   bool
	}
	tests := []struct {
		name   string
		ev     ci.Event
		target store.Target
		want   []want
	}{
		{"started opens a card", started, store.Target{Kinds: []ci.Kind{ci.KindStarted}, CardMode: "edit"},
			[]want{{card: true, text: "started"}}},
		{"started without cards", started, store.Target{Kinds: []ci.Kind{ci.KindStarted}, CardMode: "new"},
			[]want{{text: "started"}}},
		{"a forced build's start gets a Stop button", started, store.Target{Watch: true, CardMode: "edit"},
			[]want{{card: true, text: "started", stop: true}}},
		{"success edits the card silently", fin(ci.ResultSuccess, ci.KindSuccess),
			store.Target{Kinds: []ci.Kind{ci.KindSuccess}, CardMode: "edit"}, []want{{card: true, silent: true, text: "succeeded"}}},
		{"loud success", fin(ci.ResultSuccess, ci.KindSuccess),
			store.Target{Kinds: []ci.Kind{ci.KindSuccess}, CardMode: "edit", LoudSuccess: true}, []want{{card: true, text: "succeeded"}}},
		{"failure is not silent", fin(ci.ResultFailure, ci.KindFailure),
			store.Target{Kinds: []ci.Kind{ci.KindFailure}, CardMode: "new"}, []want{{text: "failed"}}},
		{"problem is a new notifying message and the card is updated", fin(ci.ResultFailure, ci.KindFailure, ci.KindProblem),
			store.Target{Kinds: []ci.Kind{ci.KindFailure, ci.KindProblem}, CardMode: "edit", Started: true},
			[]want{{card: true, cardOnly: true, silent: true, text: "failed"}, {text: "Problem"}}},
		{"recovery without a card", fin(ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery),
			store.Target{Kinds: []ci.Kind{ci.KindRecovery}, CardMode: "edit"}, []want{{text: "Recovery"}}},
		{"started-only chat gets its card updated", fin(ci.ResultWarnings, ci.KindWarnings),
			store.Target{Started: true, CardMode: "edit"}, []want{{card: true, cardOnly: true, silent: true, text: "warnings"}}},
		{"watcher hears the result with sound, its card updated", fin(ci.ResultSuccess, ci.KindSuccess), store.Target{Watch: true, CardMode: "edit"},
			[]want{{card: true, cardOnly: true, silent: true, text: "succeeded"}, {text: "succeeded"}}},
		{"watcher without cards", fin(ci.ResultFailure, ci.KindFailure), store.Target{Watch: true, CardMode: "new"},
			[]want{{text: "failed"}}},
		{"late start of a finished build says nothing", ci.Event{Conn: "bb", Kind: ci.KindStarted, Build: &ci.Build{ID: "7", Complete: true}},
			store.Target{Kinds: []ci.Kind{ci.KindStarted}}, nil},
		{"worker", ci.Event{Conn: "bb", Kind: ci.KindWorker, WorkerState: ci.WorkerMissing, Worker: &ci.Worker{Name: "w<1>"}},
			store.Target{Kinds: []ci.Kind{ci.KindWorker}, CardMode: "edit"}, []want{{text: "w&lt;1&gt;</b> went missing"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.target.ChatID = 42
			got := PlanTarget(tt.ev, tt.target, false)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				m := got[i]
				text := Render(tt.ev, []ci.Kind{m.Look}, now)[m.Look]
				if (m.CardKey != "") != w.card || m.CardOnly != w.cardOnly || m.Silent != w.silent || m.StopButton != w.stop || m.RerunButton ||
					!strings.Contains(text, w.text) || m.ChatID != 42 {
					t.Errorf("message %d = %+v (%q), want %+v", i, m, text, w)
				}
			}
		})
	}
}

// TestPlanTargetRerun: on a connection that can re-run builds, every message that tells of a
// failure gets the Re-run button, and nothing else does.
func TestPlanTargetRerun(t *testing.T) {
	fin := func(r ci.Result, derived ...ci.Kind) ci.Event {
		return ci.Event{Conn: "gh", Kind: ci.KindFinished, Derived: derived,
			Build: &ci.Build{ID: "7/1", Number: 3, Builder: "CI", Result: r, Complete: true}}
	}
	tests := []struct {
		name     string
		ev       ci.Event
		target   store.Target
		canRerun bool
		want     []bool // RerunButton of each draft, in order
	}{
		{"failure", fin(ci.ResultFailure, ci.KindFailure), store.Target{Kinds: []ci.Kind{ci.KindFailure}, CardMode: "new"}, true, []bool{true}},
		{"failure edits the card with the button", fin(ci.ResultFailure, ci.KindFailure),
			store.Target{Kinds: []ci.Kind{ci.KindFailure}, CardMode: "edit"}, true, []bool{true}},
		{"problem: the button under the problem, not the silent card", fin(ci.ResultFailure, ci.KindFailure, ci.KindProblem),
			store.Target{Kinds: []ci.Kind{ci.KindFailure, ci.KindProblem}, CardMode: "edit", Started: true}, true, []bool{false, true}},
		{"worse", fin(ci.ResultFailure, ci.KindFailure, ci.KindWorse), store.Target{Kinds: []ci.Kind{ci.KindWorse}, CardMode: "new"}, true, []bool{true}},
		{"exception", fin(ci.ResultException, ci.KindException), store.Target{Kinds: []ci.Kind{ci.KindException}, CardMode: "new"}, true, []bool{true}},
		{"a watched build's failure", fin(ci.ResultFailure, ci.KindFailure), store.Target{Watch: true, CardMode: "edit"}, true, []bool{false, true}},
		{"a started-only chat's card update", fin(ci.ResultFailure, ci.KindFailure), store.Target{Started: true, CardMode: "edit"}, true, []bool{false}},
		{"success", fin(ci.ResultSuccess, ci.KindSuccess), store.Target{Kinds: []ci.Kind{ci.KindSuccess}, CardMode: "new"}, true, []bool{false}},
		{"recovery", fin(ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), store.Target{Kinds: []ci.Kind{ci.KindRecovery}, CardMode: "new"}, true, []bool{false}},
		{"warnings", fin(ci.ResultWarnings, ci.KindWarnings), store.Target{Kinds: []ci.Kind{ci.KindWarnings}, CardMode: "new"}, true, []bool{false}},
		{"cancelled", fin(ci.ResultCancelled, ci.KindCancelled), store.Target{Kinds: []ci.Kind{ci.KindCancelled}, CardMode: "new"}, true, []bool{false}},
		{"started", ci.Event{Conn: "gh", Kind: ci.KindStarted, Build: &ci.Build{ID: "7/2", Number: 3, Builder: "CI"}},
			store.Target{Kinds: []ci.Kind{ci.KindStarted}, CardMode: "new"}, true, []bool{false}},
		{"a failure on a connection that cannot re-run", fin(ci.ResultFailure, ci.KindFailure, ci.KindProblem),
			store.Target{Kinds: []ci.Kind{ci.KindProblem}, CardMode: "new"}, false, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.target.ChatID = 42
			got := PlanTarget(tt.ev, tt.target, tt.canRerun)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d drafts %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].RerunButton != w {
					t.Errorf("draft %d = %+v, want RerunButton %v", i, got[i], w)
				}
			}
		})
	}
}

// TestNotifierEndToEnd runs events through the notifier and the sender into the fake Bot
// API: a started card edited into its result, a problem as a second message, a duplicate
// event adding nothing.
func TestNotifierEndToEnd(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		if _, err := h.st.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO chats (id, type) VALUES (1, 'private'), (2, 'private'), (3, 'private')`)
	exec(`UPDATE chats SET card_mode = 'new' WHERE id = 3`)
	exec(`INSERT INTO subscriptions (chat_id, events) VALUES (1, '{started,finished}'), (2, '{started,problem}'), (3, '{started,finished}')`)
	h.start(t)
	n := NewNotifier(h.st, NotifyOptions{}, zerolog.New(zerolog.NewTestWriter(t)))

	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	build := ci.Build{Conn: "bb", ID: "100", Number: 5, Builder: "linux", Branch: "main", Revision: "0123456789abcdef",
		StartedAt: t0, URL: "http://ci.example/b/5"}
	prev := ci.Build{Conn: "bb", ID: "99", Number: 4, Builder: "linux", Branch: "main", StartedAt: t0.Add(-time.Hour),
		FinishedAt: t0.Add(-50 * time.Minute), Complete: true, Result: ci.ResultSuccess}
	if err := n.Deliver(ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &prev, At: prev.FinishedAt}); err != nil {
		t.Fatal(err)
	}
	startedEv := ci.Event{Conn: "bb", Kind: ci.KindStarted, Build: &build, At: t0}
	for range 2 { // the second delivery is a duplicate and must add nothing
		if err := n.Deliver(ctx, startedEv); err != nil {
			t.Fatal(err)
		}
	}
	for chat, n := range map[int64]int{1: 2, 2: 1, 3: 2} {
		wantCount(t, h, chat, n)
	}
	done := build
	done.Complete, done.Result, done.FinishedAt = true, ci.ResultFailure, t0.Add(90*time.Second)
	done.FailedStep, done.StateText = "compile", "failed compile"
	finishedEv := ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &done, At: done.FinishedAt}
	for range 2 {
		if err := n.Deliver(ctx, finishedEv); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	msgs1 := h.tg.Messages(1)[1:]
	if len(msgs1) != 1 || !strings.Contains(msgs1[0].Text, "failed") || msgs1[0].Edits != 1 {
		t.Errorf("chat 1 (edit mode) = %+v, want its one card edited into the failure", msgs1)
	}
	msgs2 := h.tg.Messages(2)
	if len(msgs2) != 2 || !strings.Contains(msgs2[0].Text, "failed") || !strings.Contains(msgs2[1].Text, "Problem") || msgs2[1].Silent {
		t.Errorf("chat 2 = %+v, want the card updated and a new notifying problem message", msgs2)
	}
	msgs3 := h.tg.Messages(3)[1:]
	if len(msgs3) != 2 || msgs3[0].Edits != 0 || !strings.Contains(msgs3[1].Text, "failed") {
		t.Errorf("chat 3 (new mode) = %+v, want a second message", msgs3)
	}
	for _, m := range append(msgs1, msgs2...) {
		if !m.NoPreview || m.ParseMode != "HTML" {
			t.Errorf("message %+v: want HTML with link previews off", m)
		}
	}
}

// TestNotifierRerunButton: through the real store, a failure on a connection that can re-run
// builds is queued with a Re-run button for each subscribed chat, whose key the chat (and
// only it) can press; the same failure on a connection that cannot, and a success, are queued
// without one.
func TestNotifierRerunButton(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO chats (id, type, card_mode) VALUES (1, 'private', 'new'), (2, 'private', 'new'), (3, 'private', 'edit');
		INSERT INTO subscriptions (chat_id, events) VALUES (1, '{failure,success}'), (2, '{problem}'), (3, '{started,failure}')`); err != nil {
		t.Fatal(err)
	}
	n := NewNotifier(st, NotifyOptions{RebuildLabel: func(conn string) string {
		if conn == "gh" {
			return "Retry"
		}
		return ""
	}}, zerolog.New(zerolog.NewTestWriter(t)))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	number := 0
	deliver := func(conn, id string, r ci.Result) {
		t.Helper()
		number++
		start := t0.Add(time.Duration(number) * time.Hour)
		b := ci.Build{Conn: conn, ID: id, Number: number, Builder: "CI", Branch: "main", StartedAt: start, FinishedAt: start.Add(time.Minute),
			Complete: true, Result: r}
		if err := n.Deliver(ctx, ci.Event{Conn: conn, Kind: ci.KindFinished, Build: &b, At: b.FinishedAt}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		chat   int64
		markup *string
	}
	take := func() []row {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `DELETE FROM outbox RETURNING chat_id, reply_markup`)
		if err != nil {
			t.Fatal(err)
		}
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.chat, &r.markup); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(out, func(a, b row) int { return int(a.chat - b.chat) })
		return out
	}

	deliver("gh", "99/1", ci.ResultSuccess) // so that the failure after it is a problem
	for _, r := range take() {
		if r.markup != nil {
			t.Errorf("chat %d: keyboard %s under a success", r.chat, *r.markup)
		}
	}
	deliver("gh", "100/1", ci.ResultFailure)
	got := take()
	if len(got) != 3 {
		t.Fatalf("%d messages queued, want one per chat (3): %+v", len(got), got)
	}
	for _, r := range got {
		if r.markup == nil {
			t.Fatalf("chat %d's failure has no keyboard", r.chat)
		}
		var kb struct {
			InlineKeyboard [][]struct {
				Text         string `json:"text"`
				CallbackData string `json:"callback_data"`
			} `json:"inline_keyboard"`
		}
		if err := json.Unmarshal([]byte(*r.markup), &kb); err != nil || len(kb.InlineKeyboard) != 1 || len(kb.InlineKeyboard[0]) != 1 {
			t.Fatalf("chat %d's keyboard %s: %v", r.chat, *r.markup, err)
		}
		b := kb.InlineKeyboard[0][0]
		data, err := st.Callback(ctx, r.chat, b.CallbackData)
		if b.Text != RerunIcon+" Retry" || err != nil || data != commands.RerunData("gh", "100/1") {
			t.Errorf("chat %d: button %+v holds %q (%v), want the re-run of gh 100/1", r.chat, b, data, err)
		}
		if _, err := st.Callback(ctx, r.chat%3+1, b.CallbackData); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("chat %d's key pressed in another chat: %v, want ErrNotFound", r.chat, err)
		}
	}
	var stored int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM callbacks`).Scan(&stored); err != nil || stored != 3 {
		t.Errorf("%d payloads stored (%v), want one per chat (3)", stored, err)
	}

	deliver("bb", "99", ci.ResultSuccess)
	deliver("bb", "100", ci.ResultFailure)
	deliver("gh", "101/1", ci.ResultSuccess)
	rest := take()
	if len(rest) < 3 {
		t.Fatalf("%d messages for bb's failure and gh's recovery, want at least 3: %+v", len(rest), rest)
	}
	for _, r := range rest {
		if r.markup != nil {
			t.Errorf("chat %d: keyboard %s under a message that offers no re-run", r.chat, *r.markup)
		}
	}
}

func wantCount(t *testing.T, h *harness, chat int64, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := h.tg.WaitMessages(ctx, chat, n); err != nil {
		t.Fatalf("chat %d: %v", chat, err)
	}
}

// An event Postgres refuses as data (here a NUL, which no text or JSON column can hold: a
// provider that forgot ci.CleanText) is logged with its key and skipped, so the events after
// it are still stored and announced; a transient error would still be returned for a retry.
func TestNotifierSkipsAnEventThatCannotBeStored(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO chats (id, type) VALUES (1, 'private');
		INSERT INTO subscriptions (chat_id, events) VALUES (1, '{finished}')`); err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	n := NewNotifier(st, NotifyOptions{}, zerolog.New(&logs))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	bad := ci.Build{Conn: "bb", ID: "7", Number: 1, Builder: "linux", Reason: "evil\x00reason",
		Complete: true, Result: ci.ResultSuccess, FinishedAt: t0}
	if err := n.Deliver(ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &bad, At: t0}); err != nil {
		t.Fatalf("Deliver(unstorable event) = %v, want it skipped", err)
	}
	if !strings.Contains(logs.String(), "bb/build/7/finished") || !strings.Contains(logs.String(), `"level":"error"`) {
		t.Errorf("the skipped event is not logged with its key:\n%s", logs.String())
	}
	good := ci.Build{Conn: "bb", ID: "8", Number: 2, Builder: "linux", Complete: true, Result: ci.ResultSuccess, FinishedAt: t0.Add(time.Minute)}
	if err := n.Deliver(ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &good, At: good.FinishedAt}); err != nil {
		t.Fatal(err)
	}
	var events, queued int
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM ci_events), (SELECT count(*) FROM outbox)`).Scan(&events, &queued); err != nil {
		t.Fatal(err)
	}
	if events != 1 || queued != 1 {
		t.Errorf("%d events stored and %d messages queued, want the later build's 1 and 1", events, queued)
	}
	// Anything else is returned, so the provider offers the event again.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.Deliver(cctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &good, At: good.FinishedAt}); err == nil {
		t.Error("Deliver with a cancelled context = nil, want the error")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
