package main

// End-to-end tests for issue 8's transport items: what herald does when Telegram's answers,
// the database or the network misbehave.

import (
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
)

// A 200 ok:true whose message does not decode is a send: the reply arrives once and the
// chat's next reply is not held up behind it.
func TestE2EUndecodableOKIsSentOnce(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	tg.SetUndecodableResults(true)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/help getid")
	msgs := waitMessages(t, tg, alice.ID, 2)
	if msgs[0].Text != "Your ID is <code>111</code>." || !strings.Contains(msgs[1].Text, "/getid") {
		t.Errorf("replies %q, %q; want the id, then the help", msgs[0].Text, msgs[1].Text)
	}
	if n := tg.Calls("sendMessage"); n != 2 {
		t.Errorf("%d sendMessage calls for 2 replies", n)
	}
}
