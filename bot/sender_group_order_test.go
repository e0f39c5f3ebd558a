package bot

import (
	"context"
	"strings"
	"testing"

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
