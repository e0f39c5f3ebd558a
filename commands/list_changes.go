package commands

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci"
)

// /list changes is Buildbot's "/list changes": the newest changes the CI has seen, from every
// connection that can list them (ci.SourceChangeLister); a connection that cannot says so
// rather than being left out in silence.

const (
	defaultChanges = 10
	maxChanges     = 50
)

// listChanges answers /list changes [N].
func (d Deps) listChanges(ctx context.Context, args []string) Response {
	n := defaultChanges
	if len(args) > 0 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v <= 0 || len(args) > 1 {
			return Say(fmt.Sprintf("Send /list changes or /list changes N, N a number up to %d.", maxChanges))
		}
		n = min(v, maxChanges)
	}
	var lines []string
	for _, p := range d.CI {
		cl, ok := p.(ci.SourceChangeLister)
		if !ok {
			lines = append(lines, fmt.Sprintf("⚠️ %s: this CI cannot list changes.", Escape(p.Name())))
			continue
		}
		cctx, cancel := d.ciContext(ctx)
		cs, err := cl.RecentChanges(cctx, n)
		cancel()
		if err != nil {
			lines = append(lines, d.unreachable(p.Name(), err, "list changes"))
			continue
		}
		if len(cs) == 0 && len(d.CI) > 1 {
			lines = append(lines, fmt.Sprintf("• %s: no changes", Escape(p.Name())))
		}
		for _, c := range cs {
			lines = append(lines, d.changeLine(p.Name(), c))
		}
	}
	return Say(listText("Changes", lines, 0, "", ""))
}

// changeLine is one change: revision (linked when the CI gives a link), branch, author and the
// first line of its comments, each cut so fifty of them stay readable.
func (d Deps) changeLine(conn string, c ci.Change) string {
	var b strings.Builder
	b.WriteString("• ")
	if len(d.CI) > 1 {
		b.WriteString(Escape(conn) + ": ")
	}
	rev := shortRevision(c.Revision)
	if rev == "" {
		rev = "change " + c.ID
	}
	if u, err := url.Parse(c.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(c.URL) <= 1000 {
		fmt.Fprintf(&b, `<a href="%s"><code>%s</code></a>`, EscapeAttr(c.URL), Escape(rev))
	} else {
		fmt.Fprintf(&b, "<code>%s</code>", Escape(rev))
	}
	if c.Branch != "" {
		fmt.Fprintf(&b, " on <code>%s</code>", Escape(cut(c.Branch, 40)))
	}
	if c.Author != "" {
		fmt.Fprintf(&b, " by %s", Escape(cut(c.Author, 60)))
	}
	if line := c.CommentsLine(); line != "" {
		fmt.Fprintf(&b, ": %s", Escape(cut(line, 80)))
	}
	return b.String()
}

// shortRevision is a commit hash cut to 7 characters, as Buildbot's bot shows revisions;
// anything else is kept, cut at 40.
func shortRevision(r string) string {
	if len(r) > 7 && strings.Trim(r, "0123456789abcdefABCDEF") == "" {
		return r[:7]
	}
	return cut(r, 40)
}

// cut shortens s to limit runes, marking the cut.
func cut(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return string([]rune(s)[:limit-1]) + "…"
}
