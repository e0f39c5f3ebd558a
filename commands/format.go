package commands

import (
	"fmt"
	"time"

	"github.com/herald-ci/herald/ci"
)

// resultIcon gives each result a mark that reads at a glance in a long list.
func resultIcon(r ci.Result) string {
	switch r {
	case ci.ResultSuccess:
		return "✅"
	case ci.ResultWarnings:
		return "⚠️"
	case ci.ResultFailure:
		return "❌"
	case ci.ResultException:
		return "💥"
	case ci.ResultCancelled:
		return "⛔"
	case ci.ResultSkipped:
		return "⏭"
	case ci.ResultRetry:
		return "🔁"
	default:
		return "🔄"
	}
}

// ago says how long ago t was, coarsely: a chat reader wants "3h ago", not seconds.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
	}
}

// buildRef is "builder #12", linked to the build when the CI gave a link.
func (d Deps) buildRef(b ci.Build) string {
	text := fmt.Sprintf("%s #%d", Escape(d.label(b.Conn, b.Builder)), b.Number)
	if b.URL == "" {
		return text
	}
	return fmt.Sprintf(`<a href="%s">%s</a>`, EscapeAttr(b.URL), text)
}

func resultText(b ci.Build) string {
	if b.Result == ci.ResultNone {
		return "running"
	}
	return string(b.Result)
}
