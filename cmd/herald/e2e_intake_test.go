package main

// End-to-end tests of the intake (issue 8: items 9, 12 and 14): the real binary reading
// updates the way Telegram sends them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
)

// userSees is a bot message as the user reads it: the fake parses the HTML as Telegram does.
func userSees(t *testing.T, m telegramtest.Message) string {
	t.Helper()
	if m.ParseMode != "HTML" {
		return m.Text
	}
	plain, _, err := telegramtest.ParseHTML(m.Text)
	if err != nil {
		t.Fatalf("message %q is not valid HTML: %v", m.Text, err)
	}
	return plain
}

// waitUpdatesHandled waits until herald has handled every update it stored, on one
// connection (dbCount opens one per call).
func waitUpdatesHandled(t *testing.T, h *heraldProc) {
	t.Helper()
	conn := dbConn(t, h)
	waitFor(t, "every update handled", func() bool {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM updates WHERE handled_at IS NULL`).Scan(&n)
		return err == nil && n == 0
	})
}

// TestE2EUserErrorEscapedOnce: "/notify on <b>" is refused with the event named as the user
// typed it; it used to read "&lt;b&gt;" because the error was escaped twice.
func TestE2EUserErrorEscapedOnce(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/notify on <b>")
	msgs := waitMessages(t, tg, alice.ID, 1)
	got := userSees(t, msgs[0])
	if !strings.Contains(got, "<b>") || strings.Contains(got, "&lt;") || strings.Contains(got, "&amp;") {
		t.Errorf("the user reads %q; want <b> shown literally, once", got)
	}
}

// TestE2EOddUpdateHandled: an update with fields of types herald does not expect (Telegram
// changed something herald does not use) is answered in polling and in webhook mode; in
// webhook mode it used to get a 400, so Telegram sent it again for ever.
func TestE2EOddUpdateHandled(t *testing.T) {
	odd := func(userID int64) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"message_id":1,"date":1767000000,"from":{"id":%d,"is_bot":false,"first_name":"A","username":7},
"chat":{"id":%d,"type":"private","first_name":"A"},"text":"/getid","entities":[{"type":"bot_command","offset":0,"length":6}],
"photo":{"file_id":"changed to an object"},"story":[1,2]}`, userID, userID))
	}
	for _, mode := range []string{"polling", "webhook"} {
		t.Run(mode, func(t *testing.T) {
			tg := newFakeTelegram(t, nil)
			h := newHerald(t, heraldOptions{tg: tg, mode: mode, secret: "e2e-webhook-secret"})
			h.start()
			if mode == "webhook" {
				waitFor(t, "herald to register its webhook", func() bool { u, _ := tg.Webhook(); return u != "" })
			}
			tg.SendRawUpdate("message", odd(alice.ID))
			msgs := waitMessages(t, tg, alice.ID, 1)
			if got := userSees(t, msgs[0]); !strings.Contains(got, fmt.Sprintf("Your ID is %d.", alice.ID)) {
				t.Errorf("answer %q", got)
			}
			waitFor(t, "the update acknowledged", func() bool { return tg.Pending() == 0 })
			if n := dbCount(t, h, `SELECT count(*) FROM updates WHERE handled_at IS NULL`); n != 0 {
				t.Errorf("%d updates not handled", n)
			}
		})
	}
}

// TestE2EAnonymousSenders: /getid from an anonymous admin and from someone posting as a
// channel says the id is Telegram's placeholder, never "Your ID is 1087968824"; a channel
// post forwarded into the group is not taken as a command.
func TestE2EAnonymousSenders(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	news := telegramtest.Chat{ID: -1001000000777, Type: "channel", Title: "News"}
	tg.SendPost(telegramtest.Post{Chat: team, SenderChat: &team, Text: "/getid"})
	tg.SendPost(telegramtest.Post{Chat: team, SenderChat: &news, Text: "/getid"})
	tg.SendPost(telegramtest.Post{Chat: team, SenderChat: &news, AutomaticForward: true, Text: "/help"})
	tg.SendText(team, alice, "/getid")
	msgs := waitMessages(t, tg, team.ID, 3)
	waitUpdatesHandled(t, h)
	waitOutboxEmpty(t, h)
	if n := len(tg.Messages(team.ID)); n != 3 {
		t.Fatalf("%d answers in the group, want 3 (the forwarded channel post is no command):\n%s", n, dumpMessages(tg.Messages(team.ID)))
	}
	admin, channel, person := userSees(t, msgs[0]), userSees(t, msgs[1]), userSees(t, msgs[2])
	for _, c := range []struct{ got, want string }{
		{admin, "placeholder user 1087968824"}, {admin, "writing as the group"},
		{channel, "placeholder user 136817688"}, {channel, fmt.Sprintf("the channel “News” (ID %d)", news.ID)},
		{person, fmt.Sprintf("Your ID is %d.", alice.ID)},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("answer %q does not say %q", c.got, c.want)
		}
	}
	if strings.Contains(admin, "Your ID is") || strings.Contains(channel, "Your ID is") {
		t.Errorf("a placeholder is shown as the sender's id: %q / %q", admin, channel)
	}
}

// TestE2EBusyGroupDoesNotDelayPrivate is item 5 of issue 8 with the real binary: a group
// sends 100 /status to a CI that never answers, and a private /getid is answered within a
// second or two all the same (it waited 81 s behind them: the group's queue blocked the
// poller). The group is told to slow down rather than having 100 CI calls queued.
func TestE2EBusyGroupDoesNotDelayPrivate(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // a master that accepts the connection and never answers
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(hang.CloseClientConnections)
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf("ci:\n  - name: main\n    type: buildbot\n    url: %s/\n", hang.URL)})
	h.start()
	for i := 0; i < 100; i++ {
		tg.SendText(team, alice, "/status")
	}
	waitFor(t, "herald to take the group's 100 updates", func() bool { return tg.Pending() == 0 })
	start := time.Now()
	tg.SendText(telegramtest.PrivateChat(bob), bob, "/getid")
	msgs := waitMessages(t, tg, bob.ID, 1)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("private /getid answered after %s; want within a second or two", took)
	}
	if got := userSees(t, msgs[0]); !strings.Contains(got, fmt.Sprintf("Your ID is %d.", bob.ID)) {
		t.Errorf("answer %q", got)
	}
	conn := dbConn(t, h)
	waitFor(t, "the dropped /status marked handled", func() bool {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM updates WHERE handled_at IS NOT NULL AND chat_id = $1`, team.ID).Scan(&n)
		return err == nil && n >= 90
	})
}
