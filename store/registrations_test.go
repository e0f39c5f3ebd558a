package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci/hook"
	"github.com/herald-ci/herald/migrations"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func migrationSQL(t *testing.T, name string) string {
	t.Helper()
	raw, err := migrations.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

var regAt = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func saveChats(t *testing.T, s *store.Store, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		typ := "private"
		if id < 0 {
			typ = "supergroup"
		}
		if err := s.SaveChat(context.Background(), store.Chat{ID: id, Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
}

func registered(t *testing.T, s *store.Store, chat int64) bool {
	t.Helper()
	ok, err := s.ChatRegistered(context.Background(), chat)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestRegistrationMigrationKeepsExistingChats: chats herald knew before the registration
// migration count as registered, so an upgrade changes nothing for them.
func TestRegistrationMigrationKeepsExistingChats(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.NewURL(t)
	s, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool := s.Pool()
	// The part of the schema the migration reads, as an installation before it has it.
	if _, err := pool.Exec(ctx, `CREATE TABLE chats (id bigint PRIMARY KEY, type text NOT NULL, title text NOT NULL DEFAULT '',
		username text NOT NULL DEFAULT '', is_forum boolean NOT NULL DEFAULT false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO chats (id, type) VALUES (-100, 'supergroup'), (7, 'private')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, migrationSQL(t, "0014_registration.up.sql")); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM registered_chats WHERE how = 'upgrade' AND chat_id IN (-100, 7)`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("chats registered by the upgrade = %d, %v; want 2", n, err)
	}
}

func TestChatRegistered(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	saveChats(t, s, 1, -2)
	if registered(t, s, 1) || registered(t, s, -2) || registered(t, s, 99) {
		t.Fatal("a chat seen after the migration is not registered by being seen")
	}
	if err := s.RegisterChat(ctx, 1, store.RegisteredOpen, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterChat(ctx, 1, store.RegisteredOpen, 0); err != nil {
		t.Fatalf("registering twice: %v", err)
	}
	if !registered(t, s, 1) {
		t.Error("chat 1 not registered after RegisterChat")
	}
	// A chat of the config's chats: counts.
	if err := s.SeedDefaults(ctx, []store.DefaultChat{{ChatID: -2, Events: []string{"problem"}}}); err != nil {
		t.Fatal(err)
	}
	if !registered(t, s, -2) {
		t.Error("a default chat is not registered")
	}
}

func TestRequestAndApprove(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	saveChats(t, s, -5)
	r := store.RegistrationRequest{ChatID: -5, ThreadID: 3, ChatType: "supergroup", ChatTitle: "Ops", UserID: 42,
		UserName: "ann", FirstName: "Ann", Events: []string{"problem", "recovery"}, Builders: []string{"docs-*"}, RequestedAt: regAt}
	first, created, err := s.RequestRegistration(ctx, r)
	if err != nil || !created || first.ID == 0 || first.Status != store.RequestPending {
		t.Fatalf("RequestRegistration = %+v, %v, %v", first, created, err)
	}
	// Asking again while pending files nothing new.
	again, created, err := s.RequestRegistration(ctx, store.RegistrationRequest{ChatID: -5, UserID: 43, RequestedAt: regAt.Add(time.Minute)})
	if err != nil || created || again.ID != first.ID || again.UserID != 42 {
		t.Fatalf("second RequestRegistration = %+v, %v, %v; want the first, not created", again, created, err)
	}
	pending, err := s.PendingRegistrations(ctx, 10)
	if err != nil || len(pending) != 1 || pending[0].ID != first.ID || !reflect.DeepEqual(pending[0].Builders, []string{"docs-*"}) {
		t.Fatalf("PendingRegistrations = %+v, %v", pending, err)
	}

	got, decided, err := s.DecideRegistration(ctx, first.ID, true, 7, "@boss", regAt.Add(time.Hour))
	if err != nil || !decided || got.Status != store.RequestApproved || got.DecidedBy != 7 || got.DecidedByName != "@boss" ||
		!got.DecidedAt.Equal(regAt.Add(time.Hour)) {
		t.Fatalf("DecideRegistration = %+v, %v, %v", got, decided, err)
	}
	if !registered(t, s, -5) {
		t.Error("approved chat is not registered")
	}
	events, builders, _, err := s.NotifySettings(ctx, -5, 3)
	if err != nil || !reflect.DeepEqual(events, []string{"problem", "recovery"}) || !reflect.DeepEqual(builders, []string{"docs-*"}) {
		t.Errorf("subscription of the topic = %v %v, %v; want the request's", events, builders, err)
	}
	// A second decision (a second press, another admin's deny) changes nothing and says who
	// decided.
	got, decided, err = s.DecideRegistration(ctx, first.ID, false, 8, "@other", regAt.Add(2*time.Hour))
	if err != nil || decided || got.Status != store.RequestApproved || got.DecidedByName != "@boss" {
		t.Fatalf("second DecideRegistration = %+v, %v, %v; want the approval by @boss", got, decided, err)
	}
	if pending, _ := s.PendingRegistrations(ctx, 10); len(pending) != 0 {
		t.Errorf("pending after the decision: %+v", pending)
	}
	if _, _, err := s.DecideRegistration(ctx, 999, true, 7, "", regAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deciding an unknown request = %v; want ErrNotFound", err)
	}
}

func TestApproveKeepsOwnSubscription(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	saveChats(t, s, 9)
	if err := s.SetNotifySettings(ctx, 9, 0, []string{"failure"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	r, _, err := s.RequestRegistration(ctx, store.RegistrationRequest{ChatID: 9, UserID: 9, Events: []string{"problem"}, RequestedAt: regAt})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DecideRegistration(ctx, r.ID, true, 1, "", regAt); err != nil {
		t.Fatal(err)
	}
	if events, _, _, _ := s.NotifySettings(ctx, 9, 0); !reflect.DeepEqual(events, []string{"failure"}) {
		t.Errorf("events = %v; the chat's own subscription should stay", events)
	}
}

func TestDenyThenAskAgain(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	saveChats(t, s, 9)
	r, _, err := s.RequestRegistration(ctx, store.RegistrationRequest{ChatID: 9, UserID: 9, RequestedAt: regAt})
	if err != nil {
		t.Fatal(err)
	}
	got, decided, err := s.DecideRegistration(ctx, r.ID, false, 1, "@boss", regAt)
	if err != nil || !decided || got.Status != store.RequestDenied {
		t.Fatalf("deny = %+v, %v, %v", got, decided, err)
	}
	if registered(t, s, 9) {
		t.Error("a denied chat is registered")
	}
	if events, _, _, _ := s.NotifySettings(ctx, 9, 0); len(events) != 0 {
		t.Errorf("a denied chat got a subscription: %v", events)
	}
	next, created, err := s.RequestRegistration(ctx, store.RegistrationRequest{ChatID: 9, UserID: 9, RequestedAt: regAt})
	if err != nil || !created || next.ID == r.ID {
		t.Fatalf("asking after a denial = %+v, %v, %v; want a new request", next, created, err)
	}
}

func TestInvites(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	saveChats(t, s, 1, 2, 3, 4)
	hash := sha256.Sum256([]byte("code"))
	id, err := s.CreateInvite(ctx, hash[:], store.Invite{Uses: 2, ExpiresAt: regAt.Add(time.Hour), CreatedBy: 7, CreatedByName: "@boss", ChatID: 7, CreatedAt: regAt})
	if err != nil {
		t.Fatal(err)
	}
	events := []string{"problem", "recovery"}
	inv, ok, err := s.RedeemInvite(ctx, hash[:], 1, 0, events, regAt)
	if err != nil || !ok || inv.ID != id || inv.UsesLeft != 1 || inv.CreatedByName != "@boss" {
		t.Fatalf("first redeem = %+v, %v, %v", inv, ok, err)
	}
	if !registered(t, s, 1) {
		t.Error("chat 1 not registered by the invite")
	}
	if got, _, _, _ := s.NotifySettings(ctx, 1, 0); !reflect.DeepEqual(got, events) {
		t.Errorf("subscription = %v; want %v", got, events)
	}
	// A chat registered already takes no use.
	if inv, ok, err = s.RedeemInvite(ctx, hash[:], 1, 0, events, regAt); err != nil || ok || inv.UsesLeft != 1 {
		t.Fatalf("redeem by a registered chat = %+v, %v, %v; want no use taken", inv, ok, err)
	}
	if _, ok, err = s.RedeemInvite(ctx, hash[:], 2, 0, events, regAt); err != nil || !ok {
		t.Fatalf("second use = %v, %v", ok, err)
	}
	if inv, _, err = s.RedeemInvite(ctx, hash[:], 3, 0, events, regAt); !errors.Is(err, store.ErrInviteSpent) || inv.ID != id {
		t.Fatalf("third use = %+v, %v; want ErrInviteSpent with the invite", inv, err)
	}
	if registered(t, s, 3) {
		t.Error("a spent invite registered chat 3")
	}
	other := sha256.Sum256([]byte("other"))
	if _, _, err = s.RedeemInvite(ctx, other[:], 3, 0, events, regAt); !errors.Is(err, store.ErrInviteUnknown) {
		t.Fatalf("unknown code = %v; want ErrInviteUnknown", err)
	}
	late := sha256.Sum256([]byte("late"))
	if _, err := s.CreateInvite(ctx, late[:], store.Invite{Uses: 1, ExpiresAt: regAt, CreatedBy: 7, CreatedAt: regAt.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err = s.RedeemInvite(ctx, late[:], 3, 0, events, regAt); !errors.Is(err, store.ErrInviteExpired) {
		t.Fatalf("at the expiry = %v; want ErrInviteExpired", err)
	}
	// The code itself is stored nowhere.
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM invites WHERE position('code' in encode(code_sha256, 'escape')) > 0`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a code is stored in clear (%d, %v)", n, err)
	}
}

// TestInviteLastUseOnce: chats opening a one-use link at the same moment get in once.
func TestInviteLastUseOnce(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	chats := []int64{11, 12, 13, 14, 15, 16}
	saveChats(t, s, chats...)
	hash := sha256.Sum256([]byte("once"))
	if _, err := s.CreateInvite(ctx, hash[:], store.Invite{Uses: 1, ExpiresAt: regAt.Add(time.Hour), CreatedBy: 7, CreatedAt: regAt}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, len(chats))
	for i, c := range chats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, results[i] = s.RedeemInvite(ctx, hash[:], c, 0, nil, regAt)
		}()
	}
	wg.Wait()
	ok, spent := 0, 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrInviteSpent):
			spent++
		default:
			t.Errorf("redeem: %v", err)
		}
	}
	if ok != 1 || spent != len(chats)-1 {
		t.Errorf("%d chats got in, %d were told it is spent; want 1 and %d", ok, spent, len(chats)-1)
	}
}

// A chat a hook's chats: seed hears that hook's messages: it counts as registered, so it may
// turn them off again (/notify off) while registration is closed.
func TestHookChatRegistered(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.RegisterHooks(ctx, []store.HookDef{{Name: "allure", Kind: hook.KindMessage, Chats: []hook.Target{{ChatID: -1005, ThreadID: 3}}}}); err != nil {
		t.Fatal(err)
	}
	if !registered(t, s, -1005) {
		t.Error("a hook's fixed chat is not registered")
	}
	if registered(t, s, -1006) {
		t.Error("a chat nobody named is registered")
	}
}
