package main

// End-to-end tests of the intake (issue 8: items 9, 12 and 14): the real binary reading
// updates the way Telegram sends them.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

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
	waitFor(t, "every update handled", func() bool {
		return dbCount(t, h, `SELECT count(*) FROM updates WHERE handled_at IS NULL`) == 0
	})
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
