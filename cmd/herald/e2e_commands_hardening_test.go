package main

// End-to-end tests of issue 8's command items: a CI that does not answer (item 4), /notify
// in a group while Telegram's getChatMember fails (item 8), and senders Telegram does not
// name (item 9). The real herald binary, the fake Bot API, a real Buildbot master.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// hangingProxy stands in front of master m and forwards everything, except that requests
// for which hang is true are never answered: a master that accepted the connection and
// hangs. They end when herald gives up (or the test ends). held counts them.
func hangingProxy(t *testing.T, m *buildbottest.Master, hang func(*http.Request) bool) (proxyURL string, held *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	held = new(atomic.Int64)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang(r) {
			held.Add(1)
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	return srv.URL + "/", held
}

// TestE2ESlowCIForceAnsweredAndAudited: Buildbot never answers the force call. The user is
// told the CI did not answer (not silence, not "internal error"), and the attempt has its
// audit row saying the build may have started (issue 8, item 4).
func TestE2ESlowCIForceAnsweredAndAudited(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	proxy, held := hangingProxy(t, m, func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/api/v2/forceschedulers/")
	})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf("ci:\n  - name: main\n    type: buildbot\n    url: %s\n", proxy) + forceAuthz})
	h.start()
	aliceChat := telegramtest.PrivateChat(alice)

	form := forceToForm(t, tg, aliceChat, alice, buildbottest.BuilderPass)
	press(t, tg, aliceChat, alice, form, "Start")
	answer := waitText(t, tg, alice.ID, "main: the CI did not answer in 15s.", "may have started")
	if answer.MessageID != form.MessageID {
		t.Errorf("the answer should replace the form (message %d), got message %d", form.MessageID, answer.MessageID)
	}
	if held.Load() == 0 {
		t.Fatal("the force call never reached the hanging master")
	}
	if n := countText(tg, alice.ID, "internal error"); n != 0 {
		t.Fatalf("%d internal errors:\n%s", n, dumpMessages(tg.Messages(alice.ID)))
	}
	var found bool
	for _, a := range auditRows(t, h) {
		if a.Command == "force" && a.UserID == alice.ID && a.Builder == buildbottest.BuilderPass {
			found = a.Outcome == "failed" && strings.Contains(a.Detail, "the build may have started")
			if !found {
				t.Fatalf("audit row: %+v", a)
			}
		}
	}
	if !found {
		t.Fatalf("no audit row for the /force: %+v", auditRows(t, h))
	}
}

// TestE2ENotifyInGroupWhileGetChatMemberFails: with notify_admins_only off, /notify and its
// buttons work in a group while getChatMember fails, and herald does not ask it at all;
// with the rule on, the user is told Telegram could not be asked (issue 8, item 8).
func TestE2ENotifyInGroupWhileGetChatMemberFails(t *testing.T) {
	group := telegramtest.Chat{ID: -100500, Type: "supergroup", Title: "Team"}
	for _, adminsOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("notify_admins_only=%v", adminsOnly), func(t *testing.T) {
			tg := newFakeTelegram(t, nil)
			extra := ""
			if adminsOnly {
				extra = "authz:\n  notify_admins_only: true\n"
			}
			h := newHerald(t, heraldOptions{tg: tg, extra: extra})
			h.start()
			for range 20 {
				tg.FailNext("getChatMember", 0, telegramtest.ServerError())
			}
			tg.SendText(group, bob, "/notify on")
			if adminsOnly {
				waitText(t, tg, group.ID, "I could not ask Telegram whether you administer this chat; try again in a minute.")
				return
			}
			waitText(t, tg, group.ID, "Notifications for this chat: problem, recovery.")
			tg.SendText(group, alice, "/notify")
			kb := waitMessage(t, tg, group.ID, "the /notify keyboard", func(m telegramtest.Message) bool {
				return strings.Contains(m.Text, "Notifications for this chat") && len(m.Keyboard) > 0
			})
			press(t, tg, group, alice, kb, "▫️ started")
			waitMessage(t, tg, group.ID, "the keyboard with started on", func(m telegramtest.Message) bool {
				return m.MessageID == kb.MessageID && strings.Contains(m.Text, "started, problem, recovery")
			})
			if n := tg.Calls("getChatMember"); n != 0 {
				t.Fatalf("herald asked getChatMember %d times with notify_admins_only off", n)
			}
			if n := countText(tg, group.ID, "internal error"); n != 0 {
				t.Fatalf("%d internal errors:\n%s", n, dumpMessages(tg.Messages(group.ID)))
			}
		})
	}
}

// TestE2EAnonymousAdminMayNotForce: an admin writing as the group is refused /force with
// the reason, the attempt is audited, and /status still answers (issue 8, item 9).
func TestE2EAnonymousAdminMayNotForce(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg, h := startWithCI(t, m)
	group := telegramtest.Chat{ID: -100600, Type: "supergroup", Title: "Release team"}
	tg.SendPost(telegramtest.Post{Chat: group, From: alice, Text: "/force", SenderChat: &group})
	msg := waitText(t, tg, group.ID, "You are writing as the group (anonymous admin)", "who may /force", "Remain anonymous")
	if len(msg.Keyboard) != 0 {
		t.Fatalf("a keyboard for nobody: %+v", msg)
	}
	channel := telegramtest.Chat{ID: -100700, Type: "channel", Title: "Releases"}
	tg.SendPost(telegramtest.Post{Chat: group, From: alice, Text: "/stop", SenderChat: &channel})
	waitText(t, tg, group.ID, "You are writing as the channel Releases", "who may /stop")
	tg.SendPost(telegramtest.Post{Chat: group, From: alice, Text: "/notify on", SenderChat: &group})
	waitText(t, tg, group.ID, "whether you may change this chat's notifications")
	tg.SendPost(telegramtest.Post{Chat: group, From: alice, Text: "/status", SenderChat: &group})
	waitText(t, tg, group.ID, "<b>"+buildbottest.BuilderPass+"</b>")

	var denied int
	for _, a := range auditRows(t, h) {
		if a.Outcome != "denied" || !strings.Contains(a.Detail, "not a person's own account") {
			t.Fatalf("audit row: %+v", a)
		}
		denied++
	}
	if denied != 2 {
		t.Fatalf("want the /force and the /stop audited, got %+v", auditRows(t, h))
	}
}
