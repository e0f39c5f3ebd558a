package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/hook"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func outboxTexts(t *testing.T, s *store.Store) []string {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT chat_id::text || '/' || thread_id::text || ' ' || text FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// A hook's fixed chats are seeded once (a /notify off there stays off after the next
// start), a chat subscribed by /notify hears it too, paused chats do not, and a repeated key
// stores nothing.
func TestHookMessages(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	defs := []store.HookDef{{Name: "allure", Kind: hook.KindMessage, Chats: []hook.Target{{ChatID: -1001}, {ChatID: -1002, ThreadID: 7}}}}
	if err := s.RegisterHooks(ctx, defs); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveChat(ctx, store.Chat{ID: 42, Type: "private"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNotifySettings(ctx, 42, 0, []string{"problem", store.HookEvent("allure")}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNotifySettings(ctx, 42, 3, []string{store.HookEvent("other")}, nil, nil); err != nil {
		t.Fatal(err)
	}
	stored, err := s.StoreHookMessage(ctx, "allure", "k1", "<b>launch</b>")
	if err != nil || !stored {
		t.Fatalf("StoreHookMessage = %v, %v", stored, err)
	}
	if stored, err := s.StoreHookMessage(ctx, "allure", "k1", "<b>launch</b>"); err != nil || stored {
		t.Fatalf("repeat: StoreHookMessage = %v, %v; want not stored", stored, err)
	}
	want := []string{"-1002/7 <b>launch</b>", "-1001/0 <b>launch</b>", "42/0 <b>launch</b>"}
	if got := outboxTexts(t, s); !slices.Equal(got, want) {
		t.Errorf("outbox = %q, want %q", got, want)
	}

	// The fixed chat turns it off; the next start does not turn it on again.
	if err := s.SetNotifySettings(ctx, -1001, 0, []string{}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterHooks(ctx, defs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `DELETE FROM outbox`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE chats SET paused_at = now() WHERE id = 42`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreHookMessage(ctx, "allure", "", "second"); err != nil {
		t.Fatal(err)
	}
	if got := outboxTexts(t, s); !slices.Equal(got, []string{"-1002/7 second"}) {
		t.Errorf("outbox = %q, want only the topic", got)
	}
}

func TestHookAccess(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.RegisterHooks(ctx, []store.HookDef{
		{Name: "open", Kind: hook.KindMessage},
		{Name: "closed", Kind: hook.KindMessage, AllowChats: []int64{5}, Chats: []hook.Target{{ChatID: 6}}},
		{Name: "gone", Kind: hook.KindMessage},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterHooks(ctx, []store.HookDef{
		{Name: "open", Kind: hook.KindMessage},
		{Name: "closed", Kind: hook.KindMessage, AllowChats: []int64{5}, Chats: []hook.Target{{ChatID: 6}}},
		{Name: "monitor", Kind: hook.KindCheck},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		chat    int64
		kind    string
		allowed bool
	}{
		{"open", 1, hook.KindMessage, true}, {"closed", 5, hook.KindMessage, true}, {"closed", 6, hook.KindMessage, true},
		{"closed", 1, hook.KindMessage, false}, {"monitor", 1, hook.KindCheck, true}, {"gone", 1, "", false}, {"never", 1, "", false},
	} {
		kind, allowed, err := s.HookAccess(ctx, tt.name, tt.chat)
		if err != nil || kind != tt.kind || allowed != tt.allowed {
			t.Errorf("HookAccess(%s, %d) = %q, %v, %v; want %q, %v", tt.name, tt.chat, kind, allowed, err, tt.kind, tt.allowed)
		}
	}
}

// CheckSeen and RecentBuilds read a check hook's results from the history.
func TestCheckSeen(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i, r := range []struct {
		check string
		at    time.Duration
	}{{"db", 0}, {"db", time.Minute}, {"db", 3 * time.Minute}, {"web", 2 * time.Minute}} {
		b := ci.Build{Conn: "monitor", ID: string(rune('a' + i)), Builder: r.check, StartedAt: t0.Add(r.at), FinishedAt: t0.Add(r.at), Complete: true, Result: ci.ResultSuccess}
		if _, _, _, err := s.RecordEvent(ctx, ci.Event{Conn: "monitor", Kind: ci.KindFinished, Build: &b, At: b.FinishedAt}); err != nil {
			t.Fatal(err)
		}
	}
	seen, err := s.CheckSeen(ctx, "monitor")
	if err != nil {
		t.Fatal(err)
	}
	want := []hook.Seen{{Check: "db", Last: t0.Add(3 * time.Minute), Before: t0.Add(time.Minute)}, {Check: "web", Last: t0.Add(2 * time.Minute)}}
	if len(seen) != 2 || seen[0].Check != want[0].Check || !seen[0].Last.Equal(want[0].Last) || !seen[0].Before.Equal(want[0].Before) ||
		seen[1].Check != want[1].Check || !seen[1].Last.Equal(want[1].Last) || !seen[1].Before.IsZero() {
		t.Errorf("CheckSeen = %+v, want %+v", seen, want)
	}
	bs, err := s.RecentBuilds(ctx, "monitor", "db", 2)
	if err != nil || len(bs) != 2 || bs[0].ID != "c" || bs[1].ID != "b" {
		t.Errorf("RecentBuilds = %+v, %v", bs, err)
	}
}

// A key older than the retention is forgotten: the same key a week later is a new delivery.
func TestHookKeyExpires(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.RegisterHooks(ctx, []store.HookDef{{Name: "allure", Kind: hook.KindMessage, Chats: []hook.Target{{ChatID: -1001}}}}); err != nil {
		t.Fatal(err)
	}
	if stored, err := s.StoreHookMessage(ctx, "allure", "k1", "first"); err != nil || !stored {
		t.Fatalf("StoreHookMessage = %v, %v", stored, err)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE hook_deliveries SET received_at = now() - interval '8 days'`); err != nil {
		t.Fatal(err)
	}
	if stored, err := s.StoreHookMessage(ctx, "allure", "k1", "again"); err != nil || !stored {
		t.Fatalf("after 8 days: StoreHookMessage = %v, %v; want stored", stored, err)
	}
	if stored, err := s.StoreHookMessage(ctx, "allure", "k1", "again"); err != nil || stored {
		t.Fatalf("repeat of the new delivery: StoreHookMessage = %v, %v; want not stored", stored, err)
	}
	if got, want := outboxTexts(t, s), []string{"-1001/0 first", "-1001/0 again"}; !slices.Equal(got, want) {
		t.Errorf("outbox = %q, want %q", got, want)
	}
}

// A chat subscribed while a hook let every chat in stops hearing it once the config names
// the chats that may (allow_chats); the hook's fixed chats still hear it.
func TestHookMessageFollowsAllowChats(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.RegisterHooks(ctx, []store.HookDef{{Name: "allure", Kind: hook.KindMessage, Chats: []hook.Target{{ChatID: -1006}}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{5, 42} {
		if err := s.SaveChat(ctx, store.Chat{ID: id, Type: "private"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetNotifySettings(ctx, id, 0, []string{store.HookEvent("allure")}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RegisterHooks(ctx, []store.HookDef{{Name: "allure", Kind: hook.KindMessage, AllowChats: []int64{5}, Chats: []hook.Target{{ChatID: -1006}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreHookMessage(ctx, "allure", "", "m"); err != nil {
		t.Fatal(err)
	}
	if got, want := outboxTexts(t, s), []string{"-1006/0 m", "5/0 m"}; !slices.Equal(got, want) {
		t.Errorf("outbox = %q, want %q (not chat 42, which allow_chats leaves out)", got, want)
	}
}
