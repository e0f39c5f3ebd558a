package bot

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/tghtml"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// burstEvent is build n of builder name finishing with r on branch main after one commit by
// Ann; prev is the result before it (so a failure after a success is a problem).
func burstEvent(name string, n int, r ci.Result, derived ...ci.Kind) ci.Event {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return ci.Event{Conn: "main", Kind: ci.KindFinished, Derived: derived,
		Build: &ci.Build{ID: fmt.Sprintf("%s-%d", name, n), Number: n, Builder: name, Branch: "main",
			Revision: "a1b2c3d4e5f60718", Author: "Ann", Result: r, Complete: true, StartedAt: at.Add(-time.Minute),
			FinishedAt: at, FailedStep: "compile", URL: fmt.Sprintf("https://ci.example/%s/%d", name, n)}}
}

// rowsFor runs the plan and render stages for ev and one chat subscribed to problem and
// recovery (new messages), and returns what the enqueue stage would queue.
func rowsFor(ev ci.Event, chatID, threadID int64) []store.OutMessage {
	t := store.Target{ChatID: chatID, ThreadID: threadID, CardMode: "new"}
	for _, k := range store.EventKinds(ev) {
		if k == ci.KindProblem || k == ci.KindRecovery {
			t.Kinds = append(t.Kinds, k) // what TakeTargets gives a chat subscribed to both
		}
	}
	p := PlanEvent(ev, []store.Target{t}, false)
	texts := Render(ev, p.Looks, ev.Build.FinishedAt)
	var out []store.OutMessage
	for _, d := range p.Drafts {
		m := store.OutMessage{ChatID: d.ChatID, ThreadID: d.ThreadID, Text: texts[d.Look], Silent: d.Silent}
		applyDraft(&m, d, texts)
		out = append(out, m)
	}
	return out
}

func membersOf(t *testing.T, msgs []store.OutMessage) []groupMember {
	t.Helper()
	var ms []groupMember
	for _, m := range msgs {
		gm, ok := memberOf(store.Queued{OutMessage: m})
		if !ok {
			t.Fatalf("row %+v is no group member", m)
		}
		ms = append(ms, gm)
	}
	return ms
}

// The plan gives a problem its priority, group and anchor, and its recovery the key it
// replies to; a card's silent edit gets neither.
func TestPlanQuiet(t *testing.T) {
	p := rowsFor(burstEvent("linux", 3, ci.ResultFailure, ci.KindFailure, ci.KindProblem), -5, 0)
	r := rowsFor(burstEvent("linux", 4, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), -5, 0)
	if len(p) != 1 || len(r) != 1 {
		t.Fatalf("rows: %d problem, %d recovery; want one each", len(p), len(r))
	}
	if p[0].Priority != store.PriorityProblem || p[0].GroupKey != "bad" || p[0].AnchorKey != "main/linux/main" || p[0].ReplyToKey != "" {
		t.Errorf("problem row %+v; want priority 1, group bad, anchor main/linux/main", p[0])
	}
	if r[0].Priority != store.PriorityNormal || r[0].GroupKey != "good" || r[0].ReplyToKey != "main/linux/main" || r[0].AnchorKey != "" {
		t.Errorf("recovery row %+v; want priority 0, group good, replying to main/linux/main", r[0])
	}
	ev := burstEvent("linux", 3, ci.ResultFailure, ci.KindFailure, ci.KindProblem)
	for _, d := range PlanTarget(ev, store.Target{ChatID: 1, Kinds: []ci.Kind{ci.KindProblem}, CardMode: "edit", Started: true}, false) {
		if d.CardOnly && (d.GroupKey != "" || d.AnchorKey != "") {
			t.Errorf("card edit %+v is grouped or anchored; want neither", d)
		}
	}
}

func TestComposeGroup(t *testing.T) {
	var burst []store.OutMessage
	for i := range 20 {
		burst = append(burst, rowsFor(burstEvent(fmt.Sprintf("b%02d", i), 7, ci.ResultFailure, ci.KindFailure, ci.KindProblem), -5, 0)...)
	}
	text, markup, silent := composeGroup(membersOf(t, burst))
	head, _, _ := strings.Cut(text, "\n")
	if want := "❌ <b>20 builds broke</b> on <code>main</code> after <code>a1b2c3d4e5f6</code> by Ann"; head != want {
		t.Errorf("headline %q; want %q", head, want)
	}
	for i := range 20 {
		if !strings.Contains(text, fmt.Sprintf(`<b>b%02d</b> <a href="https://ci.example/b%02d/7">#7</a>`, i, i)) {
			t.Errorf("no line with the link of b%02d in:\n%s", i, text)
		}
	}
	if silent || markup != nil {
		t.Errorf("silent %v, markup %s; want a loud message without buttons", silent, markup)
	}
	if _, _, err := telegramtest.ParseHTML(text); err != nil {
		t.Errorf("Telegram would refuse the HTML: %v", err)
	}

	// Mixed members name only what they share; successes alone stay silent.
	mixed := membersOf(t, append(
		rowsFor(burstEvent("x", 1, ci.ResultSuccess, ci.KindSuccess, ci.KindRecovery), 1, 0),
		store.OutMessage{GroupKey: "good", GroupItem: formatItem(burstEvent("y", 2, ci.ResultSuccess), ci.KindFinished), Silent: true}))
	mixed[0].Item.Branch = "dev"
	if head, _, _ := strings.Cut(mustText(composeGroup(mixed)), "\n"); head != "✅ <b>2 builds passed</b> after <code>a1b2c3d4e5f6</code> by Ann" {
		t.Errorf("mixed headline %q", head)
	}
	quiet := []groupMember{mixed[1], mixed[1]}
	if _, _, silent := composeGroup(quiet); !silent {
		t.Errorf("two silent successes made a loud message")
	}
	if _, _, silent := composeGroup(mixed); silent {
		t.Errorf("a recovery among successes made a silent message; it keeps its sound")
	}
}

func mustText(text string, _ []byte, _ bool) string { return text }

// A burst too long for one message is cut at a line, under Telegram's limit in UTF-16
// units (after parsing, which only shortens), with how many are left out.
func TestComposeGroupCut(t *testing.T) {
	var ms []groupMember
	for i := range 300 {
		ev := burstEvent(fmt.Sprintf("builder-%03d-😀", i), 1000+i, ci.ResultFailure)
		var it groupItem
		if err := json.Unmarshal([]byte(formatItem(ev, ci.KindFinished)), &it); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, groupMember{Item: it})
	}
	text, _, _ := composeGroup(ms)
	plain, _, err := telegramtest.ParseHTML(text)
	if err != nil {
		t.Fatalf("Telegram would refuse the HTML: %v", err)
	}
	if n := tghtml.Len(text); n > MaxMessageLength {
		t.Errorf("%d UTF-16 units; want at most %d", n, MaxMessageLength)
	}
	lines := strings.Split(text, "\n")
	shown := len(lines) - 2 // the headline and the "and N more"
	last := lines[len(lines)-1]
	if want := fmt.Sprintf("… and %d more", 300-shown); last != want || shown < 10 {
		t.Errorf("last line %q after %d lines; want %q", last, shown, want)
	}
	if !strings.HasPrefix(plain, "❌ 300 builds failed on main") {
		t.Errorf("headline %q", lines[0])
	}
	for i := range ms {
		// Only whole lines: every line shown is a member's whole line.
		if i < shown && lines[i+1] != ms[i].Item.Line {
			t.Fatalf("line %d is %q; want member %d's whole line", i+1, lines[i+1], i)
		}
	}
}

// A failure's buttons survive the group, named by builder, at most maxGroupButtons.
func TestGroupKeyboard(t *testing.T) {
	var ms []groupMember
	for i := range 12 {
		kb := fmt.Sprintf(`{"inline_keyboard":[[{"text":"🔁 Rebuild","callback_data":"r:%d"}]]}`, i)
		ms = append(ms, groupMember{Item: groupItem{Name: fmt.Sprintf("b%d", i), Line: "x"}, Markup: json.RawMessage(kb)})
	}
	var kb inlineKeyboard
	markup, acksLeft := groupKeyboard(ms)
	if err := json.Unmarshal(markup, &kb); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, row := range kb.InlineKeyboard {
		if len(row) > 2 {
			t.Errorf("a row of %d buttons; want at most 2", len(row))
		}
		for _, b := range row {
			if want := fmt.Sprintf("🔁 b%d", n); b.Text != want || b.CallbackData != fmt.Sprintf("r:%d", n) {
				t.Errorf("button %d = %+v; want %q with its own payload", n, b, want)
			}
			n++
		}
	}
	if n != maxGroupButtons || acksLeft {
		t.Errorf("%d buttons, Acks left out %v; want %d, none left out", n, acksLeft, maxGroupButtons)
	}
	if got := groupButtonLabel("✔️ Ack"); got != "✔️ Ack" {
		t.Errorf("a short label became %q; want it whole", got)
	}
}

// Over the cap, every member's Ack stays before any Re-run (a reminder nobody can silence
// keeps coming); with more Acks than the cap, the text says /ack NAME does it.
func TestGroupKeyboardKeepsAcks(t *testing.T) {
	members := func(n int) []groupMember {
		var ms []groupMember
		for i := range n {
			kb := fmt.Sprintf(`{"inline_keyboard":[[{"text":"🔁 Rebuild","callback_data":"r:%d"}],[{"text":%q,"callback_data":"a:%d"}]]}`,
				i, commands.AckLabel, i)
			ms = append(ms, groupMember{Item: groupItem{Name: fmt.Sprintf("b%d", i), Line: fmt.Sprintf("line %d", i), Verb: "broke"}, Markup: json.RawMessage(kb)})
		}
		return ms
	}
	buttons := func(markup []byte) []string {
		var kb inlineKeyboard
		if err := json.Unmarshal(markup, &kb); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				out = append(out, b.CallbackData)
			}
		}
		return out
	}
	tests := []struct {
		name     string
		members  int
		want     []string
		wantHint bool
	}{
		{"within the cap", 4, []string{"r:0", "a:0", "r:1", "a:1", "r:2", "a:2", "r:3", "a:3"}, false},
		{"five: every Ack, three Re-runs", 5, []string{"r:0", "a:0", "r:1", "a:1", "r:2", "a:2", "a:3", "a:4"}, false},
		{"eight: only Acks", 8, []string{"a:0", "a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7"}, false},
		{"ten: eight Acks and the hint", 10, []string{"a:0", "a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, markup, _ := composeGroup(members(tt.members))
			if got := buttons(markup); !slices.Equal(got, tt.want) {
				t.Errorf("buttons %q; want %q", got, tt.want)
			}
			lines := strings.Split(text, "\n")
			if hint := strings.Contains(text, "/ack NAME"); hint != tt.wantHint || len(lines) < 2 {
				t.Errorf("text %q names /ack NAME: %v; want %v", text, hint, tt.wantHint)
			}
			if tt.wantHint && lines[1] != ackHint[1:] {
				t.Errorf("second line %q; want the hint under the headline", lines[1])
			}
			if _, _, err := telegramtest.ParseHTML(text); err != nil {
				t.Errorf("Telegram would refuse the HTML: %v", err)
			}
		})
	}
}
