package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
)

var (
	alice = telegramtest.User{ID: 111, FirstName: "Alice", Username: "alice"}
	bob   = telegramtest.User{ID: 222, FirstName: "Bob", Username: "bob"}
	team  = telegramtest.Chat{ID: -1001000000001, Type: "supergroup", Title: "Team"}
	forum = telegramtest.Chat{ID: -1001000000002, Type: "supergroup", Title: "Forum", IsForum: true}
)

// getIDScenario is what a user does with /getid, whatever the update transport.
func getIDScenario(t *testing.T, tg *telegramtest.Server) {
	t.Helper()
	// Private chat: the user's id.
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	msgs := waitMessages(t, tg, alice.ID, 1)
	if want := "Your ID is <code>111</code>."; msgs[0].Text != want {
		t.Errorf("private /getid = %q; want %q", msgs[0].Text, want)
	}
	if msgs[0].ParseMode != "HTML" {
		t.Errorf("parse mode = %q; want HTML", msgs[0].ParseMode)
	}

	// Group: user and chat id. Addressed to herald by name, too.
	tg.SendText(team, bob, "/getid")
	tg.SendText(team, bob, "/getid@herald_test_bot")
	msgs = waitMessages(t, tg, team.ID, 2)
	want := fmt.Sprintf("Your ID is <code>222</code>.\nThis chat's ID is <code>%d</code>.", team.ID)
	for i, m := range msgs {
		if m.Text != want {
			t.Errorf("group /getid reply %d = %q; want %q", i, m.Text, want)
		}
	}

	// Addressed to another bot: herald stays silent. The next command is a barrier: replies
	// in a chat keep the order of the commands, so once its reply is there, the one to the
	// other bot would have been too.
	tg.SendText(team, bob, "/getid@SomeOtherBot")
	tg.SendText(team, bob, "/help getid")
	msgs = waitMessages(t, tg, team.ID, 3)
	if !strings.Contains(msgs[2].Text, "/getid") || strings.HasPrefix(msgs[2].Text, "Your ID") {
		t.Errorf("third reply in the group = %q; want the help for getid (nothing for /getid@SomeOtherBot)", msgs[2].Text)
	}

	// Forum topic: also the topic id, and the reply goes to the topic.
	tg.SendTextInTopic(forum, 77, alice, "👋 /getid")
	msgs = waitMessages(t, tg, forum.ID, 1)
	want = fmt.Sprintf("Your ID is <code>111</code>.\nThis chat's ID is <code>%d</code>.\nThis topic's ID is <code>77</code>.", forum.ID)
	if msgs[0].Text != want || msgs[0].ThreadID != 77 {
		t.Errorf("forum /getid = %q in thread %d; want %q in thread 77", msgs[0].Text, msgs[0].ThreadID, want)
	}
}

func TestE2EGetIDPolling(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	getIDScenario(t, tg)
	if len(tg.Commands()) == 0 {
		t.Errorf("herald did not call setMyCommands")
	}
	if len(tg.Messages(team.ID)) != 3 {
		t.Errorf("group got %d messages; want 3", len(tg.Messages(team.ID)))
	}
	h.stop(syscall.SIGTERM)
	if !strings.Contains(h.logs.String(), `"stopped"`) {
		t.Errorf("herald did not shut down cleanly on SIGTERM")
	}
}

func TestE2EGetIDWebhook(t *testing.T) {
	const secret = "e2e-webhook-secret"
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, mode: "webhook", secret: secret})
	h.start()
	waitFor(t, "herald to register its webhook", func() bool { u, _ := tg.Webhook(); return u != "" })
	url, gotSecret := tg.Webhook()
	if url != "http://"+h.addr+"/telegram/webhook" || gotSecret != secret {
		t.Fatalf("webhook registered as %q with secret %q", url, gotSecret)
	}
	getIDScenario(t, tg)

	post := func(secretHeader, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if secretHeader != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := `{"update_id": 999999, "message": {"message_id": 1, "date": 1, "chat": {"id": 333, "type": "private"}, "from": {"id": 333, "first_name": "Mallory"}, "text": "/getid"}}`
	if code := post("", forged); code != http.StatusUnauthorized {
		t.Errorf("webhook without secret: %d; want 401", code)
	}
	if code := post("wrong", forged); code != http.StatusUnauthorized {
		t.Errorf("webhook with a wrong secret: %d; want 401", code)
	}
	if code := post(secret, `{"message": "no update id"}`); code != http.StatusBadRequest {
		t.Errorf("malformed update: %d; want 400", code)
	}
	// Barrier: a real update after the forged ones is answered; the forged one never is.
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	waitMessages(t, tg, alice.ID, 2)
	if n := len(tg.Messages(333)); n != 0 {
		t.Errorf("an update without the secret was handled: %d replies to chat 333", n)
	}
}

// herald killed between receiving /getid and answering it answers it exactly once after the
// restart.
func TestE2EKillBeforeAnswerAnswersOnce(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()

	tg.HoldSends(true) // sendMessage now hangs and records nothing: the answer is in flight
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	waitFor(t, "herald to try to answer", func() bool { return tg.Held() > 0 })
	h.stop(syscall.SIGKILL)
	// Release only once the fake saw the connection drop; released earlier, the held send
	// would count as delivered — a message in flight at a crash, which may legitimately go twice.
	waitFor(t, "the fake to see herald gone", func() bool { return tg.Held() == 0 })
	tg.HoldSends(false)
	if n := len(tg.Messages(alice.ID)); n != 0 {
		t.Fatalf("%d messages recorded while sends were held", n)
	}

	h.start()
	msgs := waitMessages(t, tg, alice.ID, 1)
	if msgs[0].Text != "Your ID is <code>111</code>." {
		t.Errorf("answer after restart = %q", msgs[0].Text)
	}
	// Barrier: a second command; once its answer is there the first cannot come again.
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/help getid")
	msgs = waitMessages(t, tg, alice.ID, 2)
	if strings.HasPrefix(msgs[1].Text, "Your ID") {
		t.Errorf("/getid answered twice: %q", msgs[1].Text)
	}
	if n := len(tg.Messages(alice.ID)); n != 2 {
		t.Errorf("alice got %d messages; want 2", n)
	}
}

// herald killed right after it stored an update, before handling it: the update is handled
// after the restart, once.
func TestE2EKillAfterReceiveHandlesOnce(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	tg.HoldSends(true)
	for i := 0; i < 5; i++ {
		tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	}
	waitFor(t, "herald to fetch the updates", func() bool { return tg.Pending() == 0 && tg.Held() > 0 })
	h.stop(syscall.SIGKILL)
	waitFor(t, "the fake to see herald gone", func() bool { return tg.Held() == 0 })
	tg.HoldSends(false)
	h.start()
	waitMessages(t, tg, alice.ID, 5)
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/help")
	msgs := waitMessages(t, tg, alice.ID, 6)
	if n := len(msgs); n != 6 || !strings.Contains(msgs[5].Text, "/getid") {
		t.Errorf("got %d messages, last %q; want 5 answers to /getid then the help", n, msgs[len(msgs)-1].Text)
	}
}
