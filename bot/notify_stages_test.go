package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// fanOut is a failed build after a success, and n chats of three styles that subscribe to
// it: cards with problems, new messages with problems, cards with every result.
func fanOut(n int) (ci.Event, []store.Target) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindFailure, ci.KindProblem, ci.KindWorse},
		Build: &ci.Build{ID: "7", Number: 3, Builder: "linux", Branch: "main", Revision: "0123456789abcdef", Owner: "ann",
			Result: ci.ResultFailure, Complete: true, StartedAt: now.Add(-time.Minute), FinishedAt: now,
			FailedStep: "test", StateText: "failed test", URL: "https://ci.example/b/7"}}
	styles := []store.Target{
		{Kinds: []ci.Kind{ci.KindFailure, ci.KindProblem}, CardMode: "edit", Started: true},
		{Kinds: []ci.Kind{ci.KindProblem}, CardMode: "new"},
		{Kinds: []ci.Kind{ci.KindFinished}, CardMode: "edit", Started: true},
	}
	targets := make([]store.Target, n)
	for i := range targets {
		targets[i] = styles[i%len(styles)]
		targets[i].ChatID = int64(i + 1)
	}
	return ev, targets
}

func TestPlanEventGroupsByLook(t *testing.T) {
	ev, targets := fanOut(3000)
	p := PlanEvent(ev, targets, false)
	// Each card chat gets its card and the problem; each new-mode chat the problem.
	if want := 1000*2 + 1000 + 1000; len(p.Drafts) != want {
		t.Errorf("%d drafts, want %d", len(p.Drafts), want)
	}
	if want := []ci.Kind{ci.KindFinished, ci.KindProblem}; !slices.Equal(p.Looks, want) {
		t.Errorf("looks = %v, want %v", p.Looks, want)
	}
	for _, d := range p.Drafts {
		if !slices.Contains(p.Looks, d.Look) {
			t.Fatalf("draft %+v has a look the plan does not list", d)
		}
	}
	if got := PlanEvent(ev, nil, false); len(got.Drafts) != 0 || len(got.Looks) != 0 {
		t.Errorf("no targets: %+v, want an empty plan", got)
	}
}

// TestRenderOncePerLook: a fan-out to 3,000 chats formats each distinct message once.
func TestRenderOncePerLook(t *testing.T) {
	ev, targets := fanOut(3000)
	p := PlanEvent(ev, targets, false)
	calls := map[ci.Kind]int{}
	count := func(ev ci.Event, look ci.Kind, now time.Time) string {
		calls[look]++
		return formatLook(ev, look, now)
	}
	now := ev.Build.FinishedAt
	texts := renderWith(count, ev, append(p.Looks, p.Looks...), now)
	if len(calls) != 2 || calls[ci.KindFinished] != 1 || calls[ci.KindProblem] != 1 {
		t.Errorf("format calls = %v, want one per look", calls)
	}
	if !strings.HasPrefix(texts[ci.KindProblem], "🔴 <b>Problem</b>") || !strings.Contains(texts[ci.KindFinished], "failed") {
		t.Errorf("texts = %q", texts)
	}
	msgs, err := outMessages(context.Background(), nil, ev, p, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		d := p.Drafts[i]
		if m.Text != texts[d.Look] || m.ChatID != d.ChatID || m.CardKey != d.CardKey || m.CardOnly != d.CardOnly || m.Silent != d.Silent {
			t.Fatalf("message %d = %+v, from draft %+v", i, m, d)
		}
	}
}

// fakeCallbacks stores button payloads in memory and counts the round trips.
type fakeCallbacks struct {
	calls int
	chats []int64
	puts  []string
}

func (f *fakeCallbacks) PutCallbacks(_ context.Context, chatIDs []int64, data []string) ([]string, error) {
	f.calls++
	keys := make([]string, len(data))
	for i := range data {
		keys[i] = fmt.Sprintf("k%d", len(f.puts)+i)
	}
	f.chats, f.puts = append(f.chats, chatIDs...), append(f.puts, data...)
	return keys, nil
}

// TestOutMessagesStopButton: only a chat that forced the build gets the Stop button, with
// its payload stored for that chat.
func TestOutMessagesStopButton(t *testing.T) {
	ev := ci.Event{Conn: "bb", Kind: ci.KindStarted, Build: &ci.Build{ID: "7", Number: 3, Builder: "linux"}}
	p := PlanEvent(ev, []store.Target{
		{ChatID: 1, Kinds: []ci.Kind{ci.KindStarted}, CardMode: "edit"},
		{ChatID: 2, Watch: true, CardMode: "new"},
	}, true)
	cb := &fakeCallbacks{}
	msgs, err := outMessages(context.Background(), cb, ev, p, Render(ev, p.Looks, time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].ReplyMarkup != nil || !strings.Contains(string(msgs[1].ReplyMarkup), "Stop") {
		t.Fatalf("messages = %+v, want the Stop button on chat 2's only", msgs)
	}
	if len(cb.puts) != 1 || cb.puts[0] != commands.StopData(ev.Conn, ev.Build.ID) {
		t.Errorf("stored payloads %q, want the stop of build 7", cb.puts)
	}
	if msgs[0].Text != msgs[1].Text {
		t.Errorf("the two chats got different texts: %q, %q", msgs[0].Text, msgs[1].Text)
	}
}

// TestOutMessagesRerunButton: a failure fanned out to 3,000 chats of a connection that can
// re-run builds puts one Re-run button under each chat's failure message (none under the
// silent card updates beside a problem), its payloads stored in one round trip.
func TestOutMessagesRerunButton(t *testing.T) {
	ev, targets := fanOut(3000)
	p := PlanEvent(ev, targets, true)
	cb := &fakeCallbacks{}
	msgs, err := outMessages(context.Background(), cb, ev, p, Render(ev, p.Looks, ev.Build.FinishedAt))
	if err != nil {
		t.Fatal(err)
	}
	if cb.calls != 1 {
		t.Errorf("%d round trips to store the payloads, want 1", cb.calls)
	}
	if len(cb.puts) != 3000 {
		t.Fatalf("%d payloads stored, want one per chat (3000)", len(cb.puts))
	}
	seen := map[int64]bool{}
	for i, chat := range cb.chats {
		if seen[chat] {
			t.Fatalf("chat %d got two payloads", chat)
		}
		seen[chat] = true
		if cb.puts[i] != commands.RerunData("bb", "7") {
			t.Fatalf("payload %d = %q, want the re-run of build 7", i, cb.puts[i])
		}
	}
	keyOf := map[int64]string{}
	for i, chat := range cb.chats {
		keyOf[chat] = fmt.Sprintf("k%d", i)
	}
	buttons := 0
	for i, m := range msgs {
		d := p.Drafts[i]
		if d.CardOnly {
			if m.ReplyMarkup != nil || d.RerunButton {
				t.Fatalf("silent card update %d carries a keyboard: %s", i, m.ReplyMarkup)
			}
			continue
		}
		var kb struct {
			InlineKeyboard [][]struct {
				Text         string `json:"text"`
				CallbackData string `json:"callback_data"`
			} `json:"inline_keyboard"`
		}
		if err := json.Unmarshal(m.ReplyMarkup, &kb); err != nil {
			t.Fatalf("message %d markup %q: %v", i, m.ReplyMarkup, err)
		}
		if len(kb.InlineKeyboard) != 1 || len(kb.InlineKeyboard[0]) != 1 ||
			kb.InlineKeyboard[0][0].Text != RerunLabel || kb.InlineKeyboard[0][0].CallbackData != keyOf[m.ChatID] {
			t.Fatalf("message %d to chat %d: keyboard %s, want the Re-run button with key %s", i, m.ChatID, m.ReplyMarkup, keyOf[m.ChatID])
		}
		buttons++
	}
	if buttons != 3000 {
		t.Errorf("%d messages with the button, want 3000", buttons)
	}

	// The same failure on a connection that cannot re-run: no button, no round trip.
	cb = &fakeCallbacks{}
	p = PlanEvent(ev, targets, false)
	msgs, err = outMessages(context.Background(), cb, ev, p, Render(ev, p.Looks, ev.Build.FinishedAt))
	if err != nil {
		t.Fatal(err)
	}
	if cb.calls != 0 {
		t.Errorf("%d round trips without buttons, want 0", cb.calls)
	}
	for i, m := range msgs {
		if m.ReplyMarkup != nil {
			t.Fatalf("message %d has a keyboard %s on a connection that cannot re-run", i, m.ReplyMarkup)
		}
	}
}
