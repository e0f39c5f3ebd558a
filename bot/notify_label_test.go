package bot

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

type labelCI struct {
	name, label string
}

func (c labelCI) Name() string                                              { return c.name }
func (labelCI) Kind() string                                                { return "fake" }
func (labelCI) Builders(context.Context) ([]ci.Builder, error)              { return nil, nil }
func (labelCI) RunningBuilds(context.Context) ([]ci.Build, error)           { return nil, nil }
func (labelCI) LastBuilds(context.Context, string, int) ([]ci.Build, error) { return nil, nil }
func (labelCI) Build(context.Context, string) (ci.Build, error)             { return ci.Build{}, nil }
func (labelCI) Workers(context.Context) ([]ci.Worker, error)                { return nil, nil }

type labelRebuilder struct{ labelCI }

func (labelRebuilder) Rebuild(context.Context, string, string) (ci.ForceResult, error) {
	return ci.ForceResult{}, nil
}
func (r labelRebuilder) RebuildLabel() string { return r.label }

// The button under a failure is in the words of its CI; a CI that cannot re-run gets none.
func TestRebuildLabelIsTheCIsWord(t *testing.T) {
	n := NewNotifier(nil, NotifyOptions{RebuildLabel: RebuildLabelsOf([]ci.Provider{
		labelRebuilder{labelCI{"gh", "Re-run failed jobs"}},
		labelRebuilder{labelCI{"gl", "Retry"}},
		labelCI{name: "bb"},
	})}, zerolog.Nop())
	for conn, want := range map[string]string{"gh": "🔁 Re-run failed jobs", "gl": "🔁 Retry", "bb": "", "gone": ""} {
		if got := n.rebuildLabel(conn); got != want {
			t.Errorf("label for %s = %q; want %q", conn, got, want)
		}
	}
	if got := NewNotifier(nil, NotifyOptions{}, zerolog.Nop()).rebuildLabel("gh"); got != "" {
		t.Errorf("without RebuildLabel: %q; want none", got)
	}
}
