package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// A builder's results keep their order when grouping takes later rows of the head's key:
// queued "x broke #7, y broke #7, x recovered #8, x broke #9", the chat reads x and y
// broke, then x recovered (a reply), then x broke again, below the recovery, not edited
// into the message above it.
func TestGroupKeepsBuilderOrder(t *testing.T) {
	h, _ := groupHarness(t)
	const chat = -500
	bad := func(name string, n int) []store.OutMessage {
		return rowsFor(burstEvent(name, n, ci.ResultFailure, ci.KindFailure, ci.KindProblem), chat, 0)
	}
	enqueueRows(t, h.st, bad("x", 7), bad("y", 7),
		rowsFor(burstEvent("x", 8, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, 0), bad("x", 9))
	h.start(t)
	got := waitMessages(t, h.tg, chat, 3)
	h.stopSender()
	got = h.tg.Messages(chat)
	if len(got) != 3 {
		t.Fatalf("got %d messages; want 3:%s", len(got), dumpTexts(got))
	}
	if !containsAll(got[0].Text, "2 builds broke", "<b>x</b>", "<b>y</b>", "#7") || strings.Contains(got[0].Text, "#9") {
		t.Errorf("first message %q; want the group of x #7 and y #7 only", got[0].Text)
	}
	if !strings.Contains(got[1].Text, "Recovery") || got[1].ReplyTo != got[0].MessageID {
		t.Errorf("second message %q replying to %d; want x's recovery answering %d", got[1].Text, got[1].ReplyTo, got[0].MessageID)
	}
	if !strings.Contains(got[2].Text, "#9") || strings.Contains(got[2].Text, "#7") {
		t.Errorf("third message %q; want x #9 on its own, after the recovery", got[2].Text)
	}
	if n, err := h.st.OutboxDepth(context.Background()); err != nil || n != 0 {
		t.Errorf("outbox depth %d, %v; want every row done", n, err)
	}
}

// An edit never notifies and never replies, so a row that must do either does not join an
// open group by editing it: a loud row after a silent group message, and a recovery that
// answers its problem, each go out as a new message.
func TestGroupLoudOrReplyIsNewMessage(t *testing.T) {
	good := func(name string, n int, chat int64, silent, reply bool) store.OutMessage {
		m := rowsFor(burstEvent(name, n, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, 0)[0]
		m.Silent = silent
		if !reply {
			m.ReplyToKey = ""
		}
		return m
	}
	t.Run("loud after silent", func(t *testing.T) {
		h, _ := groupHarness(t)
		const chat = -600
		h.start(t)
		enqueueRows(t, h.st, []store.OutMessage{good("a", 8, chat, true, false)})
		if first := waitMessages(t, h.tg, chat, 1)[0]; !first.Silent {
			t.Fatalf("the first message %q is loud; want silent", first.Text)
		}
		enqueueRows(t, h.st, []store.OutMessage{good("b", 8, chat, false, false)})
		got := waitMessages(t, h.tg, chat, 2)
		if got[0].Edits != 0 || got[1].Silent || !strings.Contains(got[1].Text, "<b>b</b>") {
			t.Errorf("a loud row after a silent group message:%s\nsecond silent %v; want a new loud message, the first unedited", dumpTexts(got), got[1].Silent)
		}
	})
	t.Run("a reply", func(t *testing.T) {
		h, clock := groupHarness(t)
		const chat = -700
		h.start(t)
		enqueueRows(t, h.st, problemRows(chat, 0, "b")...)
		problem := waitMessages(t, h.tg, chat, 1)[0]
		clock.Advance(time.Minute) // the problem's window is over
		enqueueRows(t, h.st, []store.OutMessage{good("a", 8, chat, false, false)})
		waitMessages(t, h.tg, chat, 2)
		enqueueRows(t, h.st, []store.OutMessage{good("b", 8, chat, false, true)})
		got := waitMessages(t, h.tg, chat, 3)
		if got[1].Edits != 0 || got[2].ReplyTo != problem.MessageID || !strings.Contains(got[2].Text, "<b>b</b>") {
			t.Errorf("b's recovery within a's window:%s\nwant a new message replying to %d, a's unedited", dumpTexts(got), problem.MessageID)
		}
	})
}
