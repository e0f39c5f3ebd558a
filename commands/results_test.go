package commands_test

import (
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

func TestLookOf(t *testing.T) {
	tests := []struct {
		name string
		r    ci.Result
		want commands.ResultLook
	}{
		{"cancelled has one icon everywhere", ci.ResultCancelled, commands.ResultLook{Icon: "🚫", Words: "was cancelled", Name: "cancelled"}},
		{"failure", ci.ResultFailure, commands.ResultLook{Icon: "❌", Words: "failed", Name: "failure"}},
		{"running", ci.ResultNone, commands.ResultLook{Icon: "🔄", Words: "is running", Name: "running"}},
		{"unknown is not shown as running", ci.Result("odd"), commands.ResultLook{Icon: "❔", Words: "finished (odd)", Name: "odd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commands.LookOf(tt.r); got != tt.want {
				t.Errorf("LookOf(%q) = %+v, want %+v", tt.r, got, tt.want)
			}
		})
	}
	for _, r := range ci.Results {
		if l := commands.LookOf(r); l.Icon == "❔" || l.Words == "" || l.Name != string(r) {
			t.Errorf("result %q has no full row in the table: %+v", r, l)
		}
	}
}
