package commands

import (
	"fmt"
	"time"

	"github.com/herald-ci/herald/ci"
)

// resultIcon is the result's mark from the one result table (LookOf).
func resultIcon(r ci.Result) string { return LookOf(r).Icon }

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
	text := fmt.Sprintf("%s %s", Escape(d.label(b.Conn, b.Builder)), b.NumberText())
	if b.URL == "" {
		return text
	}
	return fmt.Sprintf(`<a href="%s">%s</a>`, EscapeAttr(b.URL), text)
}

// resultText is the result's one-word name from the one result table (LookOf), escaped: an
// unknown result is the provider's word.
func resultText(b ci.Build) string { return Escape(LookOf(b.Result).Name) }
