package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func match(t *testing.T, s *store.Store, ev ci.Event) []store.Target {
	t.Helper()
	var out []store.Target
	if err := s.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.TakeTargets(context.Background(), ev)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func chatIDs(ts []store.Target) []int64 {
	var ids []int64
	for _, t := range ts {
		ids = append(ids, t.ChatID)
	}
	return ids
}

func TestTakeTargets(t *testing.T) {
	s := storetest.New(t)
	for _, id := range []int64{1, 2, 3, 4, 5, 6} {
		exec(t, s, `INSERT INTO chats (id, type) VALUES ($1, 'private')`, id)
	}
	sub := func(chat int64, events, builders, branches []string) {
		exec(t, s, `INSERT INTO subscriptions (chat_id, events, builders, branches) VALUES ($1, $2, $3, $4)`, chat, events, builders, branches)
	}
	sub(1, []string{"problem"}, []string{}, []string{})
	sub(2, []string{"failure", "finished"}, []string{"lin*"}, []string{})
	sub(3, []string{"success"}, []string{}, []string{"main"})
	sub(4, []string{"started"}, []string{}, []string{})
	sub(5, []string{"worker"}, []string{"win*"}, []string{})
	sub(6, []string{"problem"}, []string{}, []string{})
	exec(t, s, `UPDATE chats SET paused_at = now() WHERE id = 6`)

	failed := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindFailure, ci.KindProblem},
		Build: &ci.Build{ID: "7", Builder: "linux", Branch: "dev", Result: ci.ResultFailure, Complete: true}}
	tests := []struct {
		name  string
		ev    ci.Event
		chats []int64
	}{
		{"failure with problem", failed, []int64{1, 2, 4}},
		{"success on main", ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindSuccess},
			Build: &ci.Build{ID: "8", Builder: "mac", Branch: "main", Result: ci.ResultSuccess}}, []int64{3, 4}},
		{"started", ci.Event{Conn: "bb", Kind: ci.KindStarted, Build: &ci.Build{ID: "9", Builder: "mac"}}, []int64{4}},
		{"worker of a matching builder", ci.Event{Conn: "bb", Kind: ci.KindWorker, WorkerState: ci.WorkerMissing,
			Worker: &ci.Worker{Name: "w", Builders: []string{"windows"}}}, []int64{5}},
		{"worker of other builders", ci.Event{Conn: "bb", Kind: ci.KindWorker, WorkerState: ci.WorkerMissing,
			Worker: &ci.Worker{Name: "w", Builders: []string{"linux"}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chatIDs(match(t, s, tt.ev)); !slices.Equal(got, tt.chats) {
				t.Errorf("chats %v, want %v", got, tt.chats)
			}
		})
	}
	got := match(t, s, failed)
	if !slices.Equal(got[1].Kinds, []ci.Kind{ci.KindFinished, ci.KindFailure}) {
		t.Errorf("chat 2 kinds %v", got[1].Kinds)
	}
	if len(got[2].Kinds) != 0 || !got[2].Started {
		t.Errorf("chat 4 (started only) = %+v, want no kinds and Started", got[2])
	}
}

func TestFollowupBecomesWatch(t *testing.T) {
	s := storetest.New(t)
	exec(t, s, `INSERT INTO chats (id, type) VALUES (10, 'private'), (11, 'private')`)
	exec(t, s, `INSERT INTO followups (chat_id, conn, request_id, user_id) VALUES (10, 'bb', 'r1', 5)`)
	exec(t, s, `INSERT INTO watches (chat_id, conn, build_id) VALUES (11, 'bb', '42')`)

	started := ci.Event{Conn: "bb", Kind: ci.KindStarted, Build: &ci.Build{ID: "42", RequestID: "r1", Builder: "linux"}}
	got := match(t, s, started)
	if len(got) != 1 || got[0].ChatID != 10 || !got[0].Watch {
		t.Fatalf("started: %+v, want the forcing chat 10 as a watcher", got)
	}
	if n := count(t, s, `SELECT count(*) FROM followups`); n != 0 {
		t.Errorf("%d followups left, want 0", n)
	}
	finished := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindSuccess},
		Build: &ci.Build{ID: "42", Builder: "linux", Result: ci.ResultSuccess, Complete: true}}
	if got := chatIDs(match(t, s, finished)); !slices.Equal(got, []int64{10, 11}) {
		t.Fatalf("finished: chats %v, want [10 11]", got)
	}
	if n := count(t, s, `SELECT count(*) FROM watches`); n != 0 {
		t.Errorf("%d watches left after the build finished, want 0", n)
	}
}

func TestPauseAndResume(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	exec(t, s, `INSERT INTO chats (id, type) VALUES (1, 'private')`)
	exec(t, s, `INSERT INTO subscriptions (chat_id, events) VALUES (1, '{failure}')`)
	if err := s.Enqueue(ctx, store.OutMessage{ChatID: 1, Text: "x"}, store.OutMessage{ChatID: 2, Text: "y"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PauseChat(ctx, 1, "Forbidden: bot was blocked by the user"); err != nil {
		t.Fatal(err)
	}
	ev := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindFailure}, Build: &ci.Build{ID: "1", Result: ci.ResultFailure}}
	if got := match(t, s, ev); len(got) != 0 {
		t.Fatalf("paused chat matched: %+v", got)
	}
	if n := count(t, s, `SELECT count(*) FROM outbox WHERE chat_id = 1`); n != 0 {
		t.Errorf("paused chat still has %d queued", n)
	}
	if n := count(t, s, `SELECT count(*) FROM outbox WHERE chat_id = 2`); n != 1 {
		t.Errorf("other chat lost its queue")
	}
	paused, err := s.PausedChats(ctx)
	if err != nil || len(paused) != 1 || paused[0].ChatID != 1 || paused[0].Reason == "" || time.Since(paused[0].PausedAt) > time.Hour {
		t.Fatalf("paused chats: %+v, %v", paused, err)
	}
	// A reply refused while paused fails too, and does not move the pause's start.
	first := paused[0].PausedAt
	if err := s.Enqueue(ctx, store.OutMessage{ChatID: 1, Text: "reply", UpdateID: 5}); err != nil {
		t.Fatal(err)
	}
	if err := s.PauseChat(ctx, 1, "Forbidden: something else"); err != nil {
		t.Fatal(err)
	}
	// A failure from before the pause is not the pause's doing.
	exec(t, s, `INSERT INTO outbox_failed (id, chat_id, text, created_at, failed_at) VALUES (999, 1, 'old', now() - interval '2 days', now() - interval '1 day')`)

	p, lifted, err := s.ResumeChat(ctx, 1)
	if err != nil || !lifted {
		t.Fatalf("ResumeChat = %+v, %v, %v; want the pause lifted", p, lifted, err)
	}
	if !p.Since.Equal(first) || p.Reason != "Forbidden: bot was blocked by the user" || p.Failed != 2 {
		t.Errorf("lifted pause = %+v; want since %v, the first reason, 2 failed (x and the reply)", p, first)
	}
	if got := match(t, s, ev); len(got) != 1 {
		t.Fatalf("resumed chat not matched: %+v", got)
	}
	if p, lifted, err := s.ResumeChat(ctx, 1); err != nil || lifted {
		t.Errorf("second ResumeChat = %+v, %v, %v; want nothing to lift", p, lifted, err)
	}
	if p, lifted, err := s.ResumeChat(ctx, 404); err != nil || lifted {
		t.Errorf("ResumeChat of an unknown chat = %+v, %v, %v; want nothing to lift", p, lifted, err)
	}
}

func TestMigrateChat(t *testing.T) {
	tests := []struct {
		name        string
		newExists   bool
		wantEvents  []string
		wantWatches int
	}{
		{"new id unknown", false, []string{"failure"}, 1},
		{"new id already a chat", true, []string{"problem"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.New(t)
			exec(t, s, `INSERT INTO chats (id, type, title) VALUES (-1, 'group', 'team')`)
			exec(t, s, `INSERT INTO subscriptions (chat_id, events) VALUES (-1, '{failure}')`)
			exec(t, s, `INSERT INTO watches (chat_id, conn, build_id) VALUES (-1, 'bb', '1')`)
			exec(t, s, `INSERT INTO followups (chat_id, conn, request_id) VALUES (-1, 'bb', 'r')`)
			if tt.newExists {
				exec(t, s, `INSERT INTO chats (id, type) VALUES (-1002, 'supergroup')`)
				exec(t, s, `INSERT INTO subscriptions (chat_id, events) VALUES (-1002, '{problem}')`)
				exec(t, s, `INSERT INTO watches (chat_id, conn, build_id) VALUES (-1002, 'bb', '2')`)
			}
			if err := s.Enqueue(ctx, store.OutMessage{ChatID: -1, Text: "q"}); err != nil {
				t.Fatal(err)
			}
			if err := s.MigrateChat(ctx, -1, -1002); err != nil {
				t.Fatal(err)
			}
			if n := count(t, s, `SELECT count(*) FROM chats WHERE id = -1`); n != 0 {
				t.Errorf("old chat still there")
			}
			var events []string
			if err := s.Pool().QueryRow(ctx, `SELECT events FROM subscriptions WHERE chat_id = -1002`).Scan(&events); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(events, tt.wantEvents) {
				t.Errorf("events %v, want %v", events, tt.wantEvents)
			}
			if n := count(t, s, `SELECT count(*) FROM watches WHERE chat_id = -1002`); n != tt.wantWatches {
				t.Errorf("%d watches, want %d", n, tt.wantWatches)
			}
			if n := count(t, s, `SELECT count(*) FROM followups WHERE chat_id = -1002`); n != 1 {
				t.Errorf("followup not moved")
			}
			if n := count(t, s, `SELECT count(*) FROM outbox WHERE chat_id = -1002`); n != 1 {
				t.Errorf("queued message not moved")
			}
			if err := s.MigrateChat(ctx, 5, 5); err == nil {
				t.Errorf("migrating onto itself: no error")
			}
		})
	}
}

func TestSeedDefaultsOnce(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	defs := []store.DefaultChat{
		{ChatID: -100, Events: []string{"failure", "problem"}, Builders: []string{"linux"}},
		{ChatID: -100, ThreadID: 7, Events: []string{"started"}},
	}
	if err := s.SeedDefaults(ctx, defs); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM subscriptions WHERE chat_id = -100`); n != 2 {
		t.Fatalf("%d subscriptions, want 2", n)
	}
	// The chat turns notifications off with /notify; a restart must not undo it.
	exec(t, s, `UPDATE subscriptions SET events = '{}' WHERE chat_id = -100 AND thread_id = 0`)
	if err := s.SeedDefaults(ctx, defs); err != nil {
		t.Fatal(err)
	}
	var events []string
	if err := s.Pool().QueryRow(ctx, `SELECT events FROM subscriptions WHERE chat_id = -100 AND thread_id = 0`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 0 {
		t.Fatalf("restart re-seeded: events %v", events)
	}
	// A chat added to the config later is seeded then.
	if err := s.SeedDefaults(ctx, append(defs, store.DefaultChat{ChatID: 55, Events: []string{"problem"}})); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM subscriptions WHERE chat_id = 55`); n != 1 {
		t.Fatalf("new default chat not seeded")
	}
}

// TestWatcherAlsoSubscribed checks that a chat both subscribed and watching the build is one
// target, with its kinds and Watch, and that a paused watcher hears nothing.
func TestWatcherAlsoSubscribed(t *testing.T) {
	s := storetest.New(t)
	exec(t, s, `INSERT INTO chats (id, type) VALUES (10, 'private'), (11, 'private'), (12, 'private')`)
	exec(t, s, `INSERT INTO subscriptions (chat_id, events) VALUES (10, '{finished}'), (11, '{failure}')`)
	exec(t, s, `INSERT INTO watches (chat_id, conn, build_id) VALUES (10, 'bb', '42'), (11, 'bb', '42'), (12, 'bb', '42')`)
	exec(t, s, `UPDATE chats SET paused_at = now() WHERE id = 12`)
	finished := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindSuccess},
		Build: &ci.Build{ID: "42", Builder: "linux", Result: ci.ResultSuccess, Complete: true}}
	got := match(t, s, finished)
	if len(got) != 2 {
		t.Fatalf("targets %+v, want chats 10 and 11", got)
	}
	if got[0].ChatID != 10 || !got[0].Watch || !slices.Equal(got[0].Kinds, []ci.Kind{ci.KindFinished}) {
		t.Errorf("chat 10 = %+v, want kinds [finished] and Watch", got[0])
	}
	if got[1].ChatID != 11 || !got[1].Watch || len(got[1].Kinds) != 0 {
		t.Errorf("chat 11 = %+v, want a watcher without kinds", got[1])
	}
	if n := count(t, s, `SELECT count(*) FROM watches`); n != 0 {
		t.Errorf("%d watches left, want 0", n)
	}
}

// A follow-up added after the CI reported its build: a running build is watched at once, a
// finished one is returned and nothing is recorded; a finish whose start was never seen still
// ends the follow-up in the chat that forced it.
func TestFollowupAfterTheBuildWasReported(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	exec(t, s, `INSERT INTO chats (id, type) VALUES (10, 'private'), (11, 'private'), (12, 'private')`)

	running := started("gh-1/1", "CI", "main", 1, 0)
	running.Build.RequestID = "gh-1/1"
	record(t, s, running)
	done, err := s.AddFollowup(ctx, 10, 0, "bb", "gh-1/1", "CI", 5)
	if err != nil || done == nil || done.ID != "gh-1/1" || done.Complete {
		t.Fatalf("AddFollowup of a running build = %+v, %v; want it returned and watched", done, err)
	}
	if n := count(t, s, `SELECT count(*) FROM watches WHERE chat_id = 10 AND build_id = 'gh-1/1'`); n != 1 {
		t.Errorf("%d watches of the running build, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM followups`); n != 0 {
		t.Errorf("%d followups, want none: the build has started", n)
	}

	fin := finished("gh-2/1", "CI", "main", 2, ci.ResultFailure, 3)
	fin.Build.RequestID = "gh-2/1"
	record(t, s, fin)
	done, err = s.AddFollowup(ctx, 11, 0, "bb", "gh-2/1", "CI", 5)
	if err != nil || done == nil || done.ID != "gh-2/1" || done.Result != ci.ResultFailure {
		t.Fatalf("AddFollowup of a finished build = %+v, %v; want the build", done, err)
	}
	if n := count(t, s, `SELECT count(*) FROM watches WHERE chat_id = 11`) + count(t, s, `SELECT count(*) FROM followups WHERE chat_id = 11`); n != 0 {
		t.Errorf("%d rows left for a build that has finished, want none", n)
	}

	if done, err := s.AddFollowup(ctx, 12, 0, "bb", "gh-3/1", "CI", 5); err != nil || done != nil {
		t.Fatalf("AddFollowup before the build = %v, %v", done, err)
	}
	onlyFinish := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindSuccess},
		Build: &ci.Build{ID: "gh-3/1", RequestID: "gh-3/1", Builder: "CI", Result: ci.ResultSuccess, Complete: true}}
	if got := match(t, s, onlyFinish); len(got) != 1 || got[0].ChatID != 12 || !got[0].Watch {
		t.Fatalf("a finish without its start: %+v, want the forcing chat 12", got)
	}
	if n := count(t, s, `SELECT count(*) FROM followups`); n != 0 {
		t.Errorf("%d followups left, want 0", n)
	}
}

// A registered group that becomes a supergroup stays registered, whether herald saw the
// supergroup before the migration or not; its registration record (how, by whom) goes with it,
// and so does a request still waiting for the admins.
func TestMigrateChatKeepsRegistration(t *testing.T) {
	for _, newExists := range []bool{false, true} {
		t.Run(fmt.Sprintf("new id known %v", newExists), func(t *testing.T) {
			ctx := context.Background()
			s := storetest.New(t)
			exec(t, s, `INSERT INTO chats (id, type, title) VALUES (-1, 'group', 'team'), (-2, 'group', 'other')`)
			if err := s.RegisterChat(ctx, -1, store.RegisteredInvite, 77); err != nil {
				t.Fatal(err)
			}
			req := store.RegistrationRequest{ChatID: -2, UserID: 5, Events: []string{"problem"}, RequestedAt: time.Now()}
			if _, _, err := s.RequestRegistration(ctx, req); err != nil {
				t.Fatal(err)
			}
			if newExists {
				exec(t, s, `INSERT INTO chats (id, type) VALUES (-1001, 'supergroup'), (-1002, 'supergroup')`)
			}
			if err := s.MigrateChat(ctx, -1, -1001); err != nil {
				t.Fatal(err)
			}
			if err := s.MigrateChat(ctx, -2, -1002); err != nil {
				t.Fatal(err)
			}
			if ok, err := s.ChatRegistered(ctx, -1001); err != nil || !ok {
				t.Errorf("ChatRegistered(new id) = %v, %v; want true", ok, err)
			}
			if n := count(t, s, `SELECT count(*) FROM registered_chats WHERE chat_id = -1001 AND how = 'invite' AND by_user = 77`); n != 1 {
				t.Errorf("the registration record did not move with the chat")
			}
			pending, err := s.PendingRegistrations(ctx, 10)
			if err != nil || len(pending) != 1 || pending[0].ChatID != -1002 {
				t.Errorf("PendingRegistrations = %+v, %v; want the request, for the new id", pending, err)
			}
		})
	}
}
