package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

func TestFormatBuild(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	b := ci.Build{ID: "9", Number: 12, Builder: "linux<64>", Branch: "feat/a&b", Revision: "0123456789abcdef0123",
		Owner: "alice", Author: "bob <bob@x>", Reason: "forced: <urgent>", StartedAt: t0, FinishedAt: t0.Add(3*time.Minute + 5*time.Second),
		Complete: true, Result: ci.ResultFailure, FailedStep: "compile", StateText: "failed compile", URL: "https://ci.example/#/builders/1/builds/12?a=1&b=2"}
	tests := []struct {
		name     string
		ev       ci.Event
		headline ci.Kind
		want     []string
		not      []string
	}{
		{"failure", ci.Event{Kind: ci.KindFinished, Build: &b}, ci.KindFinished, []string{
			"❌ <b>linux&lt;64&gt;</b> <a href=\"https://ci.example/#/builders/1/builds/12?a=1&amp;b=2\">#12</a> failed",
			"Branch: <code>feat/a&amp;b</code>", "Revision: <code>0123456789ab</code>", "By: alice, author bob &lt;bob@x&gt;",
			"Reason: forced: &lt;urgent&gt;", "Duration: 3m05s", "Failed step: <code>compile</code>", "State: failed compile"}, nil},
		{"a re-run's failure names the attempt", ci.Event{Kind: ci.KindFinished, Build: &ci.Build{Number: 4, Attempt: 2, Builder: "CI",
			Complete: true, Result: ci.ResultFailure, StateText: "failure"}}, ci.KindProblem, []string{"<b>CI</b> #4 (attempt 2) failed"}, nil},
		{"a re-run's success and start name the attempt too", ci.Event{Kind: ci.KindFinished, Build: &ci.Build{Number: 4, Attempt: 2, Builder: "CI",
			Complete: true, Result: ci.ResultSuccess, URL: "https://github.com/a/b/actions/runs/1"}}, ci.KindRecovery,
			[]string{`<b>CI</b> <a href="https://github.com/a/b/actions/runs/1">#4 (attempt 2)</a>`}, nil},
		{"a first attempt is not named", ci.Event{Kind: ci.KindStarted, Build: &ci.Build{Number: 5, Attempt: 1, Builder: "CI"}},
			ci.KindStarted, []string{"<b>CI</b> #5 started"}, []string{"attempt"}},
		{"problem headline", ci.Event{Kind: ci.KindFinished, Build: &b}, ci.KindProblem, []string{"🔴 <b>Problem</b>: ❌"}, nil},
		{"cancelled has the icon /last shows", ci.Event{Kind: ci.KindFinished, Build: &ci.Build{Number: 2, Builder: "x", Complete: true, Result: ci.ResultCancelled}},
			ci.KindFinished, []string{commands.LookOf(ci.ResultCancelled).Icon + " <b>x</b> #2 was cancelled"}, []string{"⛔"}},
		{"an unknown result is named, escaped", ci.Event{Kind: ci.KindFinished, Build: &ci.Build{Number: 3, Builder: "x", Complete: true, Result: "<odd>"}},
			ci.KindFinished, []string{"❔ <b>x</b> #3 finished (&lt;odd&gt;)"}, []string{"<odd>"}},
		{"started", ci.Event{Kind: ci.KindStarted, Build: &ci.Build{Number: 1, Builder: "x", StartedAt: t0, URL: "javascript:alert(1)"}},
			ci.KindStarted, []string{"🏗 <b>x</b> #1 started", "Running for: 1h00m"}, []string{"href", "Failed step"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FormatBuild(tt.ev, tt.headline, t0.Add(time.Hour))
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
		})
	}
}

// FuzzFormatBuild feeds whatever a CI might send through the formatter: Telegram must
// always accept the result (valid HTML, under 4096 characters).
func FuzzFormatBuild(f *testing.F) {
	f.Add("linux", "main", "abc", "alice", "why", "compile", "failed", "https://x/1")
	f.Add(strings.Repeat("𝕏<&>", 3000), "\xff\x00", "", "", strings.Repeat("é", 9000), "", "", "http://a\"b")
	f.Fuzz(func(t *testing.T, builder, branch, rev, owner, reason, step, state, url string) {
		b := ci.Build{Number: 1, Builder: builder, Branch: branch, Revision: rev, Owner: owner, Author: owner + "x",
			Reason: reason, FailedStep: step, StateText: state, URL: url, Complete: true, Result: ci.ResultException}
		for _, k := range []ci.Kind{ci.KindFinished, ci.KindProblem} {
			out := FormatBuild(ci.Event{Kind: ci.KindFinished, Build: &b}, k, time.Now())
			plain, _, err := telegramtest.ParseHTML(out)
			if err != nil {
				t.Fatalf("invalid HTML: %v\n%q", err, out)
			}
			if n := utf16Len(plain); n > 4096 {
				t.Fatalf("%d UTF-16 units, over Telegram's 4096", n)
			}
		}
		w := FormatWorker(ci.Event{Kind: ci.KindWorker, Worker: &ci.Worker{Name: builder}})
		if _, _, err := telegramtest.ParseHTML(w); err != nil {
			t.Fatalf("worker: invalid HTML: %v", err)
		}
	})
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
