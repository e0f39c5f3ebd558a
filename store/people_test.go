package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

var linkAt = time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)

func askLink(t *testing.T, s *store.Store, user int64, kind, value string) (store.PersonLink, bool, error) {
	t.Helper()
	return s.RequestLink(context.Background(), store.PersonLink{TelegramID: user, Kind: kind, Identity: value, Name: "Ann", RequestedAt: linkAt})
}

func TestIdentityKey(t *testing.T) {
	for _, tt := range []struct{ kind, in, want string }{
		{store.IdentityGitHub, " @Ann-X ", "ann-x"},
		{store.IdentityGitLab, "Ann.B", "ann.b"},
		{store.IdentityEmail, "MAILTO:Ann@Example.COM", "ann@example.com"},
		{store.IdentityEmail, "<ann@example.com>", "ann@example.com"},
		{store.IdentityBuildbot, " Ann <Ann@example.com> ", "Ann <Ann@example.com>"},
	} {
		if got := store.IdentityKey(tt.kind, tt.in); got != tt.want {
			t.Errorf("IdentityKey(%s, %q) = %q; want %q", tt.kind, tt.in, got, tt.want)
		}
	}
}

func TestLinkRequestDecidedOnce(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	req, created, err := askLink(t, s, 101, store.IdentityGitHub, "Ann")
	if err != nil || !created || req.Status != store.LinkPending || req.Identity != "ann" || req.Source != store.LinkFromIam {
		t.Fatalf("first request = %+v, created %v, %v; want a pending iam request for ann", req, created, err)
	}
	again, created, err := askLink(t, s, 101, store.IdentityGitHub, "@ann")
	if err != nil || created || again.ID != req.ID {
		t.Fatalf("asking again = %+v, created %v, %v; want request #%d back", again, created, err, req.ID)
	}
	// Before approval the link does not count.
	if got, err := s.PeopleFor(ctx, []store.Identity{{Kind: store.IdentityGitHub, Value: "ann"}}); err != nil || len(got) != 0 {
		t.Fatalf("PeopleFor before approval = %+v, %v; want nobody", got, err)
	}
	l, decided, err := s.DecideLink(ctx, req.ID, true, 900, "Admin", linkAt.Add(time.Minute))
	if err != nil || !decided || l.Status != store.LinkApproved || l.DecidedBy != 900 {
		t.Fatalf("approve = %+v, %v, %v", l, decided, err)
	}
	l, decided, err = s.DecideLink(ctx, req.ID, false, 901, "Other", linkAt.Add(2*time.Minute))
	if err != nil || decided || l.Status != store.LinkApproved || l.DecidedByName != "Admin" {
		t.Fatalf("a second decision = %+v, %v, %v; want the first one back, undecided", l, decided, err)
	}
	got, err := s.PeopleFor(ctx, []store.Identity{{Kind: store.IdentityGitHub, Value: "ANN"}})
	if err != nil || len(got) != 1 || got[0].TelegramID != 101 || got[0].Name != "Ann" {
		t.Fatalf("PeopleFor(ANN) = %+v, %v; want user 101", got, err)
	}
	if _, _, err := askLink(t, s, 101, store.IdentityGitHub, "ann"); !errors.Is(err, store.ErrLinked) {
		t.Errorf("asking for a link one has = %v; want ErrLinked", err)
	}
	if _, _, err := askLink(t, s, 202, store.IdentityGitHub, "ann"); !errors.Is(err, store.ErrLinkTaken) {
		t.Errorf("asking for someone else's link = %v; want ErrLinkTaken", err)
	}
	if _, _, err := s.DecideLink(ctx, 999999, true, 900, "Admin", linkAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deciding no request = %v; want ErrNotFound", err)
	}
}

func TestLinkDeniedAndTakenMeanwhile(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	a, _, _ := askLink(t, s, 101, store.IdentityEmail, "ann@example.com")
	b, _, err := askLink(t, s, 202, store.IdentityEmail, "Ann@Example.com")
	if err != nil || a.ID == b.ID {
		t.Fatalf("two users asking for one address: %+v %+v %v; want two requests", a, b, err)
	}
	if _, decided, err := s.DecideLink(ctx, a.ID, false, 900, "Admin", linkAt); err != nil || !decided {
		t.Fatalf("deny: %v %v", decided, err)
	}
	if got, _ := s.PeopleFor(ctx, []store.Identity{{Kind: store.IdentityEmail, Value: "ann@example.com"}}); len(got) != 0 {
		t.Fatalf("a denied request links %+v", got)
	}
	if _, _, err := s.DecideLink(ctx, b.ID, true, 900, "Admin", linkAt); err != nil {
		t.Fatal(err)
	}
	c, _, err := askLink(t, s, 101, store.IdentityEmail, "x@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// The config gives x@ to 202 while 101's request waits: approving it is refused.
	if err := s.SeedPeople(ctx, []store.PersonLink{{TelegramID: 202, Kind: store.IdentityEmail, Identity: "X@example.com"}}, linkAt); err != nil {
		t.Fatal(err)
	}
	if _, decided, err := s.DecideLink(ctx, c.ID, true, 900, "Admin", linkAt); !errors.Is(err, store.ErrLinkTaken) || decided {
		t.Fatalf("approving an address linked meanwhile = %v, %v; want ErrLinkTaken", decided, err)
	}
	if l, err := s.Link(ctx, c.ID); err != nil || l.Status != store.LinkPending {
		t.Fatalf("the refused approval left %+v, %v; want it pending", l, err)
	}
}

func TestSeedPeopleAndUnlink(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	// 101 has github:ann by /iam; the config gives it to 303, and gitlab:bob to 101.
	r, _, _ := askLink(t, s, 101, store.IdentityGitHub, "ann")
	if _, _, err := s.DecideLink(ctx, r.ID, true, 900, "Admin", linkAt); err != nil {
		t.Fatal(err)
	}
	seed := []store.PersonLink{
		{TelegramID: 303, Kind: store.IdentityGitHub, Identity: "Ann"},
		{TelegramID: 101, Kind: store.IdentityGitLab, Identity: "bob"},
	}
	if err := s.SeedPeople(ctx, seed, linkAt); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedPeople(ctx, seed, linkAt); err != nil { // every start seeds again
		t.Fatalf("seeding twice: %v", err)
	}
	got, err := s.PeopleFor(ctx, []store.Identity{{Kind: store.IdentityGitLab, Value: "bob"}, {Kind: store.IdentityGitHub, Value: "ann"}})
	if err != nil || len(got) != 2 || got[0].TelegramID != 101 || got[1].TelegramID != 303 {
		t.Fatalf("PeopleFor = %+v, %v; want 101 (gitlab:bob) then 303 (github:ann, the config's)", got, err)
	}
	if _, err := s.Unlink(ctx, 101, store.IdentityGitLab, "bob", linkAt); !errors.Is(err, store.ErrLinkFromConfig) {
		t.Errorf("unlinking a config link = %v; want ErrLinkFromConfig", err)
	}
	if _, err := s.Unlink(ctx, 101, store.IdentityGitHub, "ann", linkAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unlinking what the config took = %v; want ErrNotFound", err)
	}
	r2, _, err := askLink(t, s, 101, store.IdentityEmail, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.DecideLink(ctx, r2.ID, true, 900, "Admin", linkAt); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlink(ctx, 101, store.IdentityEmail, "ANN@example.com", linkAt); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	links, err := s.UserLinks(ctx, 101)
	if err != nil || len(links) != 1 || links[0].Kind != store.IdentityGitLab {
		t.Fatalf("UserLinks after unlink = %+v, %v; want only gitlab:bob", links, err)
	}
	// A config without people: takes the config links away.
	if err := s.SeedPeople(ctx, nil, linkAt); err != nil {
		t.Fatal(err)
	}
	if links, _ := s.UserLinks(ctx, 101); len(links) != 0 {
		t.Fatalf("UserLinks after the config dropped people: = %+v; want none", links)
	}
}

func TestMentionsSetting(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	saveChats(t, s, -100, -200)
	if on, err := s.Mentions(ctx, -100, 0); err != nil || on {
		t.Fatalf("Mentions of a chat that never said = %v, %v; want off", on, err)
	}
	if err := s.SetMentions(ctx, -100, 7, true, linkAt); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMentions(ctx, -200, 0, true, linkAt); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMentions(ctx, -200, 0, false, linkAt); err != nil {
		t.Fatal(err)
	}
	on, err := s.MentionsOn(ctx, []store.ChatThread{{ChatID: -100, ThreadID: 7}, {ChatID: -100}, {ChatID: -200}})
	if err != nil || len(on) != 1 || !on[store.ChatThread{ChatID: -100, ThreadID: 7}] {
		t.Fatalf("MentionsOn = %v, %v; want only topic 7 of -100", on, err)
	}
}
