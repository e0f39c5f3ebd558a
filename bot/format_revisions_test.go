package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
)

// notifications.blamelist and notifications.revisions, as the render stage applies them
// (withDetails then Render).
func TestBlamelistAndRevisions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	failed := ci.Build{ID: "9", Number: 12, Builder: "toggle", Revision: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Author: "Bob <bob@x>",
		Complete: true, Result: ci.ResultFailure, URL: "https://ci.example/#/builders/1/builds/12",
		Blamelist: []string{"Bob <bob@x>", "Alice"}}
	several := failed
	several.Result, several.Revisions = ci.ResultSuccess, []string{"aaaaaaaaaaaa", "v1.2-rc<1>"}
	many := failed
	many.Blamelist = strings.Split("a b c d e f g h i j", " ")
	tests := []struct {
		name                 string
		b                    ci.Build
		kind                 ci.Kind
		blamelist, revisions bool
		want, not            []string
	}{
		{"both off", failed, ci.KindFinished, false, false,
			[]string{`<a href="https://ci.example/#/builders/1/builds/12">#12</a> failed`, "Revision: <code>2222222bbbbb</code>"},
			[]string{"Blame list", "revision 2222222"}},
		{"blame list on a failure", failed, ci.KindFinished, true, false,
			[]string{"Blame list: Bob &lt;bob@x&gt;, Alice"}, nil},
		{"blame list capped", many, ci.KindFinished, true, false,
			[]string{"Blame list: a, b, c, d, e, f, g, h +2 more"}, nil},
		{"no blame list on a success", several, ci.KindFinished, true, false, nil, []string{"Blame list"}},
		{"named by its revision", failed, ci.KindFinished, false, true,
			[]string{`<b>toggle</b> <a href="https://ci.example/#/builders/1/builds/12">revision 2222222</a> failed`},
			[]string{"#12", "Revision:"}},
		{"several codebases", several, ci.KindFinished, false, true,
			[]string{">revisions aaaaaaa, v1.2-rc&lt;1&gt;</a> succeeded"}, []string{"#12"}},
		{"a start too", ci.Build{Number: 3, Builder: "x", Revision: "abc"}, ci.KindStarted, false, true,
			[]string{"<b>x</b> revision abc started"}, nil},
		{"no revision known keeps the number", ci.Build{Number: 3, Builder: "x"}, ci.KindStarted, false, true,
			[]string{"<b>x</b> #3 started"}, nil},
		{"several revisions are not named with revisions off", several, ci.KindFinished, false, false,
			[]string{"#12"}, []string{"revisions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			ev := withDetails(ci.Event{Kind: tt.kind, Build: &b}, tt.blamelist, tt.revisions)
			texts := Render(ev, []ci.Kind{tt.kind}, t0)
			got := texts[tt.kind]
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in\n%s", w, got)
				}
			}
			if _, _, err := telegramtest.ParseHTML(got); err != nil {
				t.Errorf("Telegram would refuse it: %v\n%s", err, got)
			}
			if tt.kind == ci.KindFinished && tt.revisions && !strings.Contains(texts[itemLook(tt.kind)], "revision") {
				t.Errorf("the group item does not name the revision: %s", texts[itemLook(tt.kind)])
			}
		})
	}
	// The event the other stages read keeps its fields: only what is shown changes.
	b := several
	ev := ci.Event{Kind: ci.KindFinished, Build: &b}
	withDetails(ev, false, false)
	if len(b.Revisions) != 2 || len(b.Blamelist) != 2 {
		t.Errorf("withDetails changed the stored build: %+v", b)
	}
}
