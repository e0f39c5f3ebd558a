package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestFailedInviteReplyKeepsNoCode: an /invite reply Telegram refused (or that a paused
// chat's queue dropped) never reached anyone; outbox_failed keeps what it said, but not the
// code, which would still let a chat in until it expires.
func TestFailedInviteReplyKeepsNoCode(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	const code = "Zx9_secret-Code0123456"
	text := "🎟 Invite #1 lets 1 chat in: https://t.me/herald_bot?start=" + code + "\nFor a group: https://t.me/herald_bot?startgroup=" + code
	if err := s.Enqueue(ctx, store.OutMessage{ChatID: 42, Text: text}, store.OutMessage{ChatID: 43, Text: text}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := s.Pool().QueryRow(ctx, `SELECT id FROM outbox WHERE chat_id = 42`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := s.FailOutbox(ctx, id, "Bad Request: something"); err != nil {
		t.Fatal(err)
	}
	if err := s.PauseChat(ctx, 43, "Forbidden: bot was blocked by the user"); err != nil {
		t.Fatal(err)
	}
	for _, chat := range []int64{42, 43} {
		failed, err := s.FailedMessages(ctx, chat, 10)
		if err != nil || len(failed) != 1 {
			t.Fatalf("FailedMessages(%d) = %+v, %v; want one", chat, failed, err)
		}
		got := failed[0].Text
		if strings.Contains(got, code) || !strings.Contains(got, "?start=…") || !strings.Contains(got, "?startgroup=…") || !strings.HasPrefix(got, "🎟 Invite #1 lets 1 chat in") {
			t.Errorf("chat %d: outbox_failed keeps %q; want the text with the code left out", chat, got)
		}
	}
}
