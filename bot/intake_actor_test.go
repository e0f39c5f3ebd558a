package bot

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// TestActorFromSenderChat is item 9 of issue 8 on the intake's side: a message written by an
// anonymous admin or posted as a channel carries Telegram's placeholder user, and the Request
// says so (Actor, SenderChatID, SenderChatTitle) so nothing is granted to that id; /getid
// tells them what it sees. A channel post Telegram forwards into its discussion group is not
// a command at all: it is marked handled without running.
func TestActorFromSenderChat(t *testing.T) {
	var (
		mu   sync.Mutex
		reqs []commands.Request
	)
	getid := commands.GetID().Handler
	record := func(ctx context.Context, req commands.Request) (commands.Response, error) {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		return getid.Handle(ctx, req)
	}
	handler := handlerMap{"getid": record, "force": record}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	news := telegramtest.Chat{ID: -1002, Type: "channel", Title: "News"}

	r.tg.SendPost(telegramtest.Post{Chat: group, SenderChat: &group, Text: "/getid"})
	r.tg.SendPost(telegramtest.Post{Chat: group, SenderChat: &news, Text: "/getid"})
	r.tg.SendPost(telegramtest.Post{Chat: group, SenderChat: &news, AutomaticForward: true, Text: "/force build now"})
	r.tg.SendText(group, ann, "/getid")
	msgs := waitMessages(t, r.tg, group.ID, 3)
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })

	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 3 {
		t.Fatalf("handler ran %d times (%+v); want 3: the automatic forward is no command", len(reqs), reqs)
	}
	want := []struct {
		actor  commands.Actor
		user   int64
		sender int64
		title  string
	}{
		{commands.ActorAnonymousAdmin, 1087968824, group.ID, "Team"},
		{commands.ActorChannel, 136817688, news.ID, "News"},
		{commands.ActorUser, ann.ID, 0, ""},
	}
	for i, w := range want {
		got := reqs[i]
		if got.Actor != w.actor || got.UserID != w.user || got.SenderChatID != w.sender || got.SenderChatTitle != w.title {
			t.Errorf("request %d: actor %q user %d sender chat %d %q; want %q %d %d %q", i,
				got.Actor, got.UserID, got.SenderChatID, got.SenderChatTitle, w.actor, w.user, w.sender, w.title)
		}
	}
	if reqs[2].Person() == false || reqs[0].Person() || reqs[1].Person() {
		t.Errorf("Person() = %v %v %v; want false false true", reqs[0].Person(), reqs[1].Person(), reqs[2].Person())
	}
	for i, m := range msgs[:2] {
		if text := seen(t, m); strings.Contains(text, "Your ID is") || !strings.Contains(text, "placeholder") {
			t.Errorf("answer %d to a placeholder sender: %q", i, text)
		}
	}
	if text := seen(t, msgs[2]); !strings.Contains(text, "Your ID is 42.") {
		t.Errorf("answer to ann: %q", text)
	}
}

// TestAnonymousAdminsShareNoRateLimit: the placeholder user id is the same for every
// anonymous admin in every group, so it must not be one rate-limit bucket: each group's
// anonymous admins count as that group.
func TestAnonymousAdminsShareNoRateLimit(t *testing.T) {
	l := newCommandLimiter(RateLimit{Burst: 1, Every: 1e12}, RateLimit{Burst: 100, Every: 1e9}, (&settableClock{}).Now)
	in := &Intake{limiter: l, username: func() string { return "herald_bot" }}
	tg := telegramtest.New(telegramtest.Options{Token: testToken})
	defer tg.Close()
	other := telegramtest.Chat{ID: -1003, Type: "supergroup", Title: "Other"}
	for _, c := range []telegramtest.Chat{group, other} {
		tg.SendPost(telegramtest.Post{Chat: c, SenderChat: &c, Text: "/status"})
	}
	ups := drainUpdates(t, tg)
	for _, u := range ups {
		rd := in.readUpdate(u)
		if !rd.counts || rd.sender != u.ChatID {
			t.Fatalf("update in %d counts against %d (%v); want the group itself", u.ChatID, rd.sender, rd.counts)
		}
		if v := l.allowAt(rd.sender, u.ChatID, rd.sentAt); v.drop {
			t.Errorf("the first anonymous command in %d was dropped", u.ChatID)
		}
	}
}

// drainUpdates takes what the fake has queued, as the poller would store it.
func drainUpdates(t *testing.T, tg *telegramtest.Server) []store.Update {
	t.Helper()
	raws, err := getUpdates(context.Background(), newRawAPI(testToken, tg.URL(), 1), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ups []store.Update
	for _, raw := range raws {
		u, err := decodeUpdate(raw)
		if err != nil {
			t.Fatal(err)
		}
		ups = append(ups, store.Update{ID: u.ID, ChatID: chatOf(&u), Payload: raw})
	}
	return ups
}
