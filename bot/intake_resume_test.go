package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// TestPausedChatIsToldOnReturn is the 403 diagnostic as a chat admin sees it: herald's
// notifications to a chat that blocked the bot fail and the chat is paused; when someone in
// the chat speaks to herald again, the first reply says since when and why herald could not
// write there and how many notifications were lost, and later replies do not repeat it.
func TestPausedChatIsToldOnReturn(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := zerolog.New(zerolog.NewTestWriter(t))
	h.start(t)
	ann := telegramtest.User{ID: 42, FirstName: "Ann", Username: "ann"}
	chat := telegramtest.PrivateChat(ann)

	// Two notifications while the bot is blocked: both fail, the chat is paused.
	h.tg.BlockChat(ann.ID)
	if err := h.st.Enqueue(ctx, store.OutMessage{ChatID: ann.ID, Text: "build 1 failed"},
		store.OutMessage{ChatID: ann.ID, Text: "build 2 failed"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the chat paused", func() bool {
		p, err := h.st.PausedChats(ctx)
		return err == nil && len(p) == 1 && p[0].ChatID == ann.ID
	})
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))

	// Ann unblocks the bot and asks for her id.
	h.tg.UnblockChat(ann.ID)
	in := NewIntake(h.st, h.api, commands.GetID().Handler, func() string { return "herald_bot" }, IntakeOptions{Workers: 2}, log)
	poller := NewPoller(h.st, h.api, in, h.tg.URL(), time.Second, log)
	done := make(chan struct{}, 2)
	go func() { _ = in.Run(ctx); done <- struct{}{} }()
	go func() { _ = poller.Run(ctx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()

	h.tg.SendText(chat, ann, "/getid")
	msgs := waitMessages(t, h.tg, ann.ID, 2)
	notice, reply := msgs[0].Text, msgs[1].Text
	for _, want := range []string{"I could not write here since " + time.Now().UTC().Format("2006-01-02"),
		"(Forbidden: bot was blocked by the user)", "; 2 notifications were not delivered."} {
		if !strings.Contains(notice, want) {
			t.Errorf("first reply %q does not say %q", notice, want)
		}
	}
	if !strings.Contains(reply, "Your ID is") {
		t.Errorf("second reply %q is not the answer to /getid", reply)
	}
	if p, err := h.st.PausedChats(ctx); err != nil || len(p) != 0 {
		t.Errorf("paused chats after the chat spoke: %+v, %v; want none", p, err)
	}

	// Said once: the next command gets only its answer.
	h.tg.SendText(chat, ann, "/getid")
	msgs = waitMessages(t, h.tg, ann.ID, 3)
	// A second notice would be queued before the answer, in the same transaction.
	if !strings.Contains(msgs[2].Text, "Your ID is") {
		t.Errorf("third reply %q; want only the answer to /getid, no second notice", msgs[2].Text)
	}
}

func waitMessages(t *testing.T, tg *telegramtest.Server, chat int64, n int) []telegramtest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs, err := tg.WaitMessages(ctx, chat, n)
	if err != nil {
		t.Fatalf("chat %d: waiting for %d messages: %v (got %d)", chat, n, err, len(tg.Messages(chat)))
	}
	return msgs
}
