package commands_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// Telegram refuses a keyboard of more than 100 buttons; herald keeps pages readable too.
const (
	maxButtons = 100
	maxRows    = 10
)

func manyNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("b%03d/linux", i))
	}
	return out
}

// keyboard is the only keyboard of res, checked against Telegram's limits.
func keyboard(t *testing.T, res commands.Response) [][]commands.Button {
	t.Helper()
	var kb [][]commands.Button
	for _, r := range res.Replies {
		if r.Keyboard != nil {
			kb = r.Keyboard
		}
	}
	buttons := 0
	for _, row := range kb {
		buttons += len(row)
	}
	if buttons == 0 || buttons > maxButtons || len(kb) > maxRows {
		t.Fatalf("keyboard of %d buttons in %d rows:\n%s", buttons, len(kb), dump(res))
	}
	return kb
}

// choices are the buttons of a page that are not ◀ ▶ or ← Back / ✖ Cancel.
func choices(kb [][]commands.Button) []string {
	var out []string
	for _, row := range kb {
		for _, b := range row {
			switch b.Text {
			case "◀", "▶", "← Back", "✖ Cancel":
				continue
			}
			out = append(out, b.Text)
		}
	}
	return out
}

func hasButton(kb [][]commands.Button, text string) bool {
	for _, row := range kb {
		for _, b := range row {
			if b.Text == text {
				return true
			}
		}
	}
	return false
}

// walk presses ▶ from the first page to the last, checking every page, and returns the
// choices of each page. Every redraw replaces the message in place.
func walk(t *testing.T, e *env, chat, user int64, first commands.Response) ([][]string, []commands.Response) {
	t.Helper()
	var pages [][]string
	var seen []commands.Response
	res := first
	for i := 0; ; i++ {
		kb := keyboard(t, res)
		pages = append(pages, choices(kb))
		seen = append(seen, res)
		if want := fmt.Sprintf("(page %d of ", i+1); !strings.Contains(res.Replies[0].Text, want) {
			t.Fatalf("page %d does not say so: %s", i+1, dump(res))
		}
		if hasButton(kb, "◀") != (i > 0) {
			t.Fatalf("page %d: ◀ only after the first page: %s", i+1, dump(res))
		}
		if !hasButton(kb, "▶") {
			return pages, seen
		}
		if i > 100 {
			t.Fatal("▶ never ends")
		}
		res = e.press(chat, user, res, "▶")
		if !res.Replies[0].Edit {
			t.Fatalf("▶ must redraw in place: %s", dump(res))
		}
	}
}

// checkPages: the pages hold every name once, in order.
func checkPages(t *testing.T, pages [][]string, want []string) {
	t.Helper()
	if len(pages) < 2 {
		t.Fatalf("%d names on %d page(s)", len(want), len(pages))
	}
	if got := slices.Concat(pages...); !slices.Equal(got, want) {
		t.Fatalf("pages hold %d names:\n%q\nwant %d:\n%q", len(got), got, len(want), want)
	}
}

// TestForceBuildersPaginated: a force scheduler with 150 builders (issue 8, item 14).
func TestForceBuildersPaginated(t *testing.T) {
	e := newEnv(t)
	names := manyNames(150)
	e.bb.schedulers = func(ctx context.Context) ([]ci.ForceScheduler, error) {
		return []ci.ForceScheduler{{Conn: "bb", Name: "force", Builders: names, Fields: schedFields}}, nil
	}
	first := e.send(groupID, admin, "/force")
	pages, seen := walk(t, e, groupID, admin, first)
	checkPages(t, pages, names)

	// ◀ goes back a page, redrawn in place.
	back := e.press(groupID, admin, seen[3], "◀")
	if got := choices(keyboard(t, back)); !slices.Equal(got, pages[2]) || !back.Replies[0].Edit {
		t.Fatalf("◀ from page 4 shows %q, want page 3 %q", got, pages[2])
	}
	// Choosing on page 3 forces that builder.
	pick := pages[2][1]
	form := e.press(groupID, admin, back, pick)
	mustContain(t, form, "Force <b>"+pick+"</b>")
	e.press(groupID, admin, form, "Branch*")
	form = e.send(groupID, admin, "main")
	mustContain(t, e.press(groupID, admin, form, "▶ Start"), "Forced <b>"+pick+"</b>")
	if e.forcedCount() != 1 || e.forced[0].Builder != pick {
		t.Fatalf("forced %+v", e.forced)
	}
}

// TestForceSchedulersAndChoicesPaginated: many force schedulers, and a choice field with
// many values, page the same way.
func TestForceSchedulersAndChoicesPaginated(t *testing.T) {
	e := newEnv(t)
	var scheds []ci.ForceScheduler
	var labels []string
	values := manyNames(120)
	for i := range 30 {
		name := fmt.Sprintf("sched%02d", i)
		labels = append(labels, name)
		scheds = append(scheds, ci.ForceScheduler{Conn: "bb", Name: name, Builders: []string{"pass"},
			Fields: []ci.ForceField{{Name: "target", Label: "Target", Type: ci.FieldChoice, Choices: values, Default: values[0]}}})
	}
	e.bb.schedulers = func(ctx context.Context) ([]ci.ForceScheduler, error) { return scheds, nil }
	pages, seen := walk(t, e, groupID, admin, e.send(groupID, admin, "/force"))
	checkPages(t, pages, labels)

	form := e.press(groupID, admin, seen[2], pages[2][0])
	mustContain(t, form, "Force <b>pass</b>")
	choice := e.press(groupID, admin, form, "Target")
	pages, seen = walk(t, e, groupID, admin, choice)
	checkPages(t, pages, values)
	for _, p := range seen {
		if !hasButton(keyboard(t, p), "← Back") {
			t.Fatalf("a page without ← Back: %s", dump(p))
		}
	}
	form = e.press(groupID, admin, seen[2], pages[2][3])
	mustContain(t, form, "<code>"+pages[2][3]+"</code>")
}

// TestStopAndWatchPaginated: 150 running builds to stop, 150 builders to watch.
func TestStopAndWatchPaginated(t *testing.T) {
	e := newEnv(t)
	var want, builders []string
	e.mu.Lock()
	for i, name := range manyNames(150) {
		e.running = append(e.running, ci.Build{Conn: "bb", ID: fmt.Sprint(1000 + i), Number: i + 1, Builder: name})
		want = append(want, fmt.Sprintf("%s #%d", name, i+1))
		builders = append(builders, name)
	}
	e.mu.Unlock()

	pages, seen := walk(t, e, groupID, admin, e.send(groupID, admin, "/stop"))
	checkPages(t, pages, want)
	pick := pages[2][4]
	res := e.press(groupID, admin, seen[2], pick)
	mustContain(t, res, "Stop "+pick+"?")
	mustContain(t, e.press(groupID, admin, res, "⏹ Stop without a reason"), "asked to stop <b>"+pick+"</b>")
	if len(e.stopped) != 1 || !strings.HasPrefix(e.stopped[0], "1020: ") {
		t.Fatalf("stopped %q", e.stopped)
	}

	pages, seen = walk(t, e, groupID, nobody, e.send(groupID, nobody, "/watch"))
	checkPages(t, pages, builders)
	mustContain(t, e.press(groupID, nobody, seen[2], pages[2][0]), "Watching "+pages[2][0]+" #17")
}
