package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func addChat(t *testing.T, s *store.Store, id int64) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), `INSERT INTO chats (id, type) VALUES ($1, 'group')`, id); err != nil {
		t.Fatal(err)
	}
}

func TestNotifySettings(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	addChat(t, s, -100)

	ev, b, br, err := s.NotifySettings(ctx, -100, 0)
	if err != nil || len(ev)+len(b)+len(br) != 0 || ev == nil {
		t.Fatalf("fresh chat: %v %v %v %v", ev, b, br, err)
	}
	if err := s.SetNotifySettings(ctx, -100, 7, []string{"problem", "recovery"}, []string{"docs-*"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNotifySettings(ctx, -100, 0, []string{"failure"}, nil, []string{"main"}); err != nil {
		t.Fatal(err)
	}
	ev, b, br, err = s.NotifySettings(ctx, -100, 7)
	if err != nil || !slices.Equal(ev, []string{"problem", "recovery"}) || !slices.Equal(b, []string{"docs-*"}) || len(br) != 0 {
		t.Fatalf("topic 7: %v %v %v %v", ev, b, br, err)
	}
	// Replacing keeps one row per chat and topic.
	if err := s.SetNotifySettings(ctx, -100, 7, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	subs, err := s.ListSubscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].ThreadID != 0 || subs[0].Events[0] != "failure" || subs[0].Branches[0] != "main" {
		t.Fatalf("subscriptions: %+v", subs)
	}
	if err := s.SetNotifySettings(ctx, 555, 0, []string{"failure"}, nil, nil); err == nil {
		t.Fatal("unknown chat: want an error")
	}
}

func TestWatchesAndFollowups(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	addChat(t, s, 1)
	for i, want := range []bool{true, false} {
		added, err := s.AddWatch(ctx, 1, 0, "bb", "42", "slow", 9)
		if err != nil || added != want {
			t.Fatalf("add %d: added=%v err=%v, want %v", i, added, err, want)
		}
	}
	ws, err := s.ChatWatches(ctx, 1)
	if err != nil || len(ws) != 1 || ws[0].Builder != "slow" || ws[0].UserID != 9 {
		t.Fatalf("watches: %+v %v", ws, err)
	}
	for range 2 {
		if done, err := s.AddFollowup(ctx, 1, 3, "bb", "r7", "pass", 9); err != nil || done != nil {
			t.Fatalf("AddFollowup = %v, %v; want a follow-up recorded", done, err)
		}
	}
	fs, err := s.ChatFollowups(ctx, 1)
	if err != nil || len(fs) != 1 || fs[0].RequestID != "r7" || fs[0].ThreadID != 3 {
		t.Fatalf("followups: %+v %v", fs, err)
	}
}

func TestConversations(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later := now.Add(time.Hour)

	if _, _, found, err := s.Conversation(ctx, 1, 0, 9, now); found || err != nil {
		t.Fatalf("none yet: found=%v err=%v", found, err)
	}
	id1, err := s.StartConversation(ctx, 1, 0, 9, []byte(`{"a":1}`), later)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := s.StartConversation(ctx, 1, 0, 9, []byte(`{"a":2}`), later)
	if err != nil {
		t.Fatal(err)
	}
	if id1 == id2 {
		t.Fatal("a replacing conversation must get a new id")
	}
	if found, err := s.UpdateConversation(ctx, id1, []byte(`{}`), later); found || err != nil {
		t.Fatalf("update replaced: found=%v err=%v", found, err)
	}
	if found, err := s.UpdateConversation(ctx, id2, []byte(`{"a": 3}`), later); !found || err != nil {
		t.Fatalf("update: found=%v err=%v", found, err)
	}
	id, data, found, err := s.Conversation(ctx, 1, 0, 9, now)
	if err != nil || !found || id != id2 || string(data) != `{"a": 3}` {
		t.Fatalf("conversation: %d %s %v %v", id, data, found, err)
	}
	// Other users, topics and chats are apart.
	if _, _, found, _ := s.Conversation(ctx, 1, 5, 9, now); found {
		t.Fatal("other topic sees it")
	}
	if _, _, found, _ := s.Conversation(ctx, 1, 0, 8, now); found {
		t.Fatal("other user sees it")
	}
	// Expired is not found, and pruned.
	if _, _, found, _ := s.Conversation(ctx, 1, 0, 9, later); found {
		t.Fatal("expired conversation found")
	}
	if ended, err := s.EndConversation(ctx, id2); !ended || err != nil {
		t.Fatalf("end: %v %v", ended, err)
	}
	if ended, err := s.EndConversation(ctx, id2); ended || err != nil {
		t.Fatalf("end twice: %v %v", ended, err)
	}
	if _, err := s.StartConversation(ctx, 1, 0, 9, []byte(`{"b":1}`), later); err != nil {
		t.Fatal(err)
	}
	data, found, err = s.EndUserConversation(ctx, 1, 0, 9)
	if err != nil || !found || string(data) != `{"b": 1}` {
		t.Fatalf("end user: %s %v %v", data, found, err)
	}
	if _, found, err := s.EndUserConversation(ctx, 1, 0, 9); found || err != nil {
		t.Fatalf("end user twice: %v %v", found, err)
	}
	if _, err := s.StartConversation(ctx, 2, 0, 9, []byte(`{}`), now); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneConversations(ctx, later); n != 1 || err != nil {
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.Audit(ctx, at, 9, "alice", -100, 0, "force", "branch=main", "bb", "pass", store.AuditAllowed, "request 7"); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, at.Add(time.Second), 8, "", -100, 0, "stop", "", "bb", "slow", store.AuditDenied, "you may not use /stop"); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, at, 8, "", -100, 0, "stop", "", "", "", "maybe", ""); err == nil {
		t.Fatal("unknown outcome: want an error")
	}
	log, err := s.AuditLog(ctx, 10)
	if err != nil || len(log) != 2 {
		t.Fatalf("log: %+v %v", log, err)
	}
	if log[0].Command != "stop" || log[0].Outcome != store.AuditDenied || log[1].UserName != "alice" || !log[1].At.Equal(at) {
		t.Fatalf("log: %+v", log)
	}
}
