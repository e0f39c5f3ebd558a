package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// positionOf is where the first message to chat containing part stands among everything
// the fake accepted, -1 when it is not there yet.
func positionOf(tg *telegramtest.Server, chat int64, part string) int {
	for i, m := range tg.AllSent() {
		if m.ChatID == chat && strings.Contains(m.Text, part) {
			return i
		}
	}
	return -1
}

// A command's reply enqueued while 3,000 chats wait for a fan-out goes out within a
// second's worth of sends (Telegram's global 30/s), not behind the fan-out, also when the
// backlog is larger than what the sender holds in memory. Positions are counted, not time.
func TestReplyOvertakesFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3,000-chat backlog at Telegram's rate")
	}
	for _, tt := range []struct {
		name        string
		maxInMemory int
	}{{"backlog in memory", 0}, {"backlog beyond the cap", 1000}} {
		t.Run(tt.name, func(t *testing.T) {
			opts := SenderOptions{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MaxInMemory: tt.maxInMemory}
			h := newHarness(t, telegramtest.DefaultLimits(), opts)
			chats := make([]int64, 3000)
			for i := range chats {
				chats[i] = int64(100000 + i)
			}
			enqueueN(t, h.st, chats, 1)
			h.start(t)
			waitFor(t, "the fan-out under way", func() bool { return len(h.tg.AllSent()) >= 45 })
			before := len(h.tg.AllSent())
			if err := h.st.Enqueue(context.Background(), store.OutMessage{ChatID: 42, Text: "your chat id is 42", UpdateID: 7}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the reply", func() bool { return positionOf(h.tg, 42, "your chat id") >= 0 })
			after := positionOf(h.tg, 42, "your chat id") - before
			// What was in flight when the reply was queued goes first, and at most a second
			// of the global budget while the loader takes the reply in.
			if limit := 30 + 8; after > limit {
				t.Errorf("the reply went out after %d more fan-out messages; want at most %d (a second at 30/s and the sends in flight)", after, limit)
			}
			if s := h.tg.Stats(); s.RateLimited != 0 {
				t.Errorf("%d 429s; want none", s.RateLimited)
			}
			t.Logf("reply after %d fan-out messages (of %d sent when it was queued)", after, before)
		})
	}
}

// Among notification chats a problem goes first; within one chat order is kept, and a
// reply to a command in the chat goes ahead of the chat's notifications.
func TestProblemsFirstOrderKept(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	var msgs []store.OutMessage
	for i := range 200 {
		msgs = append(msgs, store.OutMessage{ChatID: int64(1000 + i), Text: fmt.Sprintf("success %d", i)})
	}
	for i := range 50 {
		msgs = append(msgs, store.OutMessage{ChatID: int64(2000 + i), Text: fmt.Sprintf("problem %d", i), Priority: store.PriorityProblem})
	}
	msgs = append(msgs,
		store.OutMessage{ChatID: 7, Text: "seven: success first"},
		store.OutMessage{ChatID: 7, Text: "seven: problem second", Priority: store.PriorityProblem},
		store.OutMessage{ChatID: 7, Text: "seven: the reply", UpdateID: 3})
	if err := h.st.Enqueue(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	waitFor(t, "every message", func() bool { return len(h.tg.AllSent()) == len(msgs) })
	last := 0
	for i := range 50 {
		p := positionOf(h.tg, int64(2000+i), "problem")
		last = max(last, p)
	}
	// The reply of chat 7 and its first notification may come before; nothing else.
	if last >= 50+2 {
		t.Errorf("the last problem went out at position %d; want every problem among the first %d", last, 50+2)
	}
	var seven []string
	for _, m := range h.tg.Messages(7) {
		seven = append(seven, m.Text)
	}
	if want := []string{"seven: the reply", "seven: success first", "seven: problem second"}; !slices.Equal(seven, want) {
		t.Errorf("chat 7 got %q; want %q (the reply first, then its notifications in order)", seven, want)
	}
}

// jumpClock runs with real time (so each chat's rate slot opens as it would) and jumps
// when the test says (so a grouping window closes when the test wants it closed).
type jumpClock struct {
	mu     sync.Mutex
	start  time.Time
	offset time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).Add(time.Since(c.start) + c.offset)
}

func (c *jumpClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// testWindow is the grouping window of the tests: the steps that must fall inside it take
// a few seconds of real time at most.
const testWindow = 10 * time.Second

// groupHarness is a sender with grouping on and a clock the test moves.
func groupHarness(t *testing.T) (*harness, *jumpClock) {
	clock := &jumpClock{start: time.Now()}
	opts := SenderOptions{Clock: clock.Now, GroupWindow: testWindow,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 50 * time.Millisecond}
	return newHarness(t, nil, opts), clock
}

func enqueueRows(t *testing.T, st *store.Store, rows ...[]store.OutMessage) {
	t.Helper()
	var all []store.OutMessage
	for _, r := range rows {
		all = append(all, r...)
	}
	if err := st.Enqueue(context.Background(), all...); err != nil {
		t.Fatal(err)
	}
}

func problemRows(chat, thread int64, names ...string) [][]store.OutMessage {
	var out [][]store.OutMessage
	for _, n := range names {
		out = append(out, rowsFor(burstEvent(n, 7, ci.ResultFailure, ci.KindFailure, ci.KindProblem), chat, thread))
	}
	return out
}

// The grouping window, with an injected clock: a lone problem goes out as today; problems
// arriving while its window is open edit it into one message (when the chat's rate slot
// opens); after the window they make a new message; a new sender (a restart) still edits
// the open group; a lone event after every window is sent exactly as without grouping.
func TestGroupWindow(t *testing.T) {
	h, clock := groupHarness(t)
	const chat = -100
	tg := h.tg
	edits := func(i int) int { return tg.Messages(chat)[i].Edits }
	h.start(t)

	lone := rowsFor(burstEvent("a", 7, ci.ResultFailure, ci.KindFailure, ci.KindProblem), chat, 0)
	enqueueRows(t, h.st, lone)
	first := waitMessages(t, tg, chat, 1)[0]
	if first.Text != lone[0].Text || first.Silent {
		t.Fatalf("a lone problem went out as %q (silent %v); want its own text, loud:\n%s", first.Text, first.Silent, lone[0].Text)
	}

	// Two more within the window: nothing new until the chat may be written to again, then
	// one edit that shows all three.
	enqueueRows(t, h.st, problemRows(chat, 0, "b", "c")...)
	waitFor(t, "the edit", func() bool { return edits(0) == 1 })
	got := tg.Messages(chat)
	if len(got) != 1 || !strings.HasPrefix(got[0].Text, "❌ <b>3 builds broke</b> on <code>main</code>") ||
		!containsAll(got[0].Text, "<b>a</b>", "<b>b</b>", "<b>c</b>") {
		t.Fatalf("after two more problems in the window: %d messages, first %q; want one naming a, b and c", len(got), got[0].Text)
	}

	// Later than a window after the first message, but within one of the last edit: the
	// same message again.
	clock.Advance(testWindow * 6 / 10)
	enqueueRows(t, h.st, problemRows(chat, 0, "c2")...)
	waitFor(t, "the second edit", func() bool { return edits(0) == 2 })
	if got := tg.Messages(chat); len(got) != 1 || !containsAll(got[0].Text, "4 builds broke", "<b>c2</b>") {
		t.Fatalf("a problem within a window of the last edit: %d messages, first %q; want the group edited to 4", len(got), got[0].Text)
	}

	// After the window: a new message, composed at once for the two rows queued.
	clock.Advance(2 * testWindow)
	enqueueRows(t, h.st, problemRows(chat, 0, "d", "e")...)
	second := waitMessages(t, tg, chat, 2)[1]
	if !strings.HasPrefix(second.Text, "❌ <b>2 builds broke</b>") || !containsAll(second.Text, "<b>d</b>", "<b>e</b>") || second.Silent {
		t.Fatalf("after the window: %q (silent %v); want a loud new message naming d and e", second.Text, second.Silent)
	}

	// A restart in the window: the next sender edits the stored group.
	h.stopSender()
	enqueueRows(t, h.st, problemRows(chat, 0, "f")...)
	h.start(t)
	waitFor(t, "the edit after a restart", func() bool { return edits(1) == 1 })
	if got := tg.Messages(chat); len(got) != 2 || !containsAll(got[1].Text, "3 builds broke", "<b>d</b>", "<b>e</b>", "<b>f</b>") {
		t.Fatalf("after a restart in the window: %d messages, second %q; want the group edited to name d, e, f", len(got), got[1].Text)
	}

	// Another topic of the same chat is a group of its own; a success is not a failure's.
	clock.Advance(time.Minute)
	enqueueRows(t, h.st, problemRows(chat, 9, "g")...)
	enqueueRows(t, h.st, rowsFor(burstEvent("h", 8, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, 0))
	waitMessages(t, tg, chat, 4)
	if got := tg.Messages(chat); got[2].ThreadID+got[3].ThreadID != 9 || edits(0) != 2 || edits(1) != 1 {
		t.Errorf("a problem in topic 9 and a recovery: %s; want two new messages, nothing edited", dumpTexts(got))
	}
	h.stopSender()
	if n, err := h.st.OutboxDepth(context.Background()); err != nil || n != 0 {
		t.Errorf("outbox depth %d, %v; want every row done", n, err)
	}
}

// The window slides: a group stays open while its chat's results keep coming within a
// window of its last update, up to ten windows from its first message.
func TestGroupOpen(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	w := 5 * time.Second
	tests := []struct {
		name            string
		opened, updated time.Duration // before now
		want            bool
	}{
		{"just sent", 0, 0, true},
		{"updated within the window", 7 * time.Second, 3 * time.Second, true},
		{"quiet for a window", 7 * time.Second, 5 * time.Second, false},
		{"ten windows old", 50 * time.Second, time.Second, false},
		{"nearly ten windows old", 49 * time.Second, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Sender{opts: SenderOptions{Clock: func() time.Time { return t0 }, GroupWindow: w}}
			g := store.Group{OpenedAt: t0.Add(-tt.opened), UpdatedAt: t0.Add(-tt.updated)}
			if got := s.groupOpen(g); got != tt.want {
				t.Errorf("groupOpen = %v; want %v", got, tt.want)
			}
		})
	}
}

// With grouping off (window 0) every row is its own message, as before.
func TestGroupWindowOff(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	enqueueRows(t, h.st, problemRows(-100, 0, "a", "b", "c")...)
	h.start(t)
	msgs := waitMessages(t, h.tg, -100, 3)
	for i, m := range msgs {
		if m.Edits != 0 || strings.Contains(m.Text, "builds broke") {
			t.Errorf("message %d: %q, %d edits; want the row's own text, unedited", i, m.Text, m.Edits)
		}
	}
}

// A recovery is a reply to its problem's message; when that message is gone it goes as a
// plain message (in a topic, where Telegram refuses the reply, by sending it again).
func TestRecoveryRepliesToProblem(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	h.start(t)
	tg := h.tg
	ctx := context.Background()
	recovery := func(chat, thread int64, name string) []store.OutMessage {
		return rowsFor(burstEvent(name, 8, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, thread)
	}
	for _, tt := range []struct {
		name     string
		thread   int64
		deleted  bool
		wantSent bool // a reply to the problem
	}{
		{"a reply", 0, false, true},
		{"problem deleted", 0, true, false},
		{"in a topic", 5, false, true},
		{"deleted in a topic", 5, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			chat := int64(-200) - int64(len(tt.name))*10 - tt.thread
			enqueueRows(t, h.st, problemRows(chat, tt.thread, "linux")...)
			problem := waitMessages(t, tg, chat, 1)[0]
			if tt.deleted {
				if _, err := h.api.DeleteMessage(ctx, deleteParams(chat, problem.MessageID)); err != nil {
					t.Fatal(err)
				}
			}
			enqueueRows(t, h.st, recovery(chat, tt.thread, "linux"))
			rec := waitMessages(t, tg, chat, 2)[1]
			want := 0
			if tt.wantSent {
				want = problem.MessageID
			}
			if rec.ReplyTo != want || !strings.Contains(rec.Text, "Recovery") {
				t.Errorf("recovery %q replies to %d; want %d", rec.Text, rec.ReplyTo, want)
			}
		})
	}
	// A second recovery of the same builder has nothing left to answer: plain.
	const chat = -300
	enqueueRows(t, h.st, problemRows(chat, 0, "mac")...)
	waitMessages(t, tg, chat, 1)
	enqueueRows(t, h.st, rowsFor(burstEvent("mac", 8, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, 0))
	enqueueRows(t, h.st, rowsFor(burstEvent("mac", 9, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, 0))
	got := waitMessages(t, tg, chat, 3)
	if got[1].ReplyTo != got[0].MessageID || got[2].ReplyTo != 0 {
		t.Errorf("replies %d, %d; want the first recovery to answer %d, the second none", got[1].ReplyTo, got[2].ReplyTo, got[0].MessageID)
	}
}

// Grouped problems each anchor the group message; their grouped recoveries answer it.
func TestGroupedRecoveryRepliesToGroupedProblem(t *testing.T) {
	h, clock := groupHarness(t)
	const chat = -400
	enqueueRows(t, h.st, problemRows(chat, 0, "a", "b", "c")...)
	h.start(t)
	problem := waitMessages(t, h.tg, chat, 1)[0]
	if !strings.Contains(problem.Text, "3 builds broke") {
		t.Fatalf("three queued problems went out as %q; want one group message", problem.Text)
	}
	clock.Advance(time.Minute)
	var recs [][]store.OutMessage
	for _, n := range []string{"a", "b", "c"} {
		recs = append(recs, rowsFor(burstEvent(n, 8, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), chat, 0))
	}
	enqueueRows(t, h.st, recs...)
	rec := waitMessages(t, h.tg, chat, 2)[1]
	if !strings.Contains(rec.Text, "3 builds recovered") || rec.ReplyTo != problem.MessageID || rec.Silent {
		t.Errorf("recoveries went out as %q replying to %d (silent %v); want one loud group replying to %d", rec.Text, rec.ReplyTo, rec.Silent, problem.MessageID)
	}
}

func dumpTexts(msgs []telegramtest.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "\n[%d topic %d edits %d reply %d] %s", m.MessageID, m.ThreadID, m.Edits, m.ReplyTo, m.Text)
	}
	return b.String()
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func deleteParams(chat int64, id int) *tgbot.DeleteMessageParams {
	return &tgbot.DeleteMessageParams{ChatID: chat, MessageID: id}
}
