package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci/tghtml"
	"github.com/herald-ci/herald/store"
)

// FormatDigest is the text of a digest: the period in the schedule's zone, then builds per
// builder, what is still broken (since when, by whom), what recovered, flaky builders and
// the slowest builds. Sections with nothing to say are left out; an empty period says so.
func FormatDigest(d store.Digest, loc *time.Location, showConn bool) string {
	var b strings.Builder
	from, to := d.From.In(loc), d.To.In(loc)
	layout := "Mon 2 Jan 15:04"
	fmt.Fprintf(&b, "📋 <b>Digest</b> %s – %s (%s)\n", from.Format(layout), to.Format(layout), esc(loc.String(), maxField))
	name := func(conn, builder string) string {
		if showConn {
			builder = conn + "/" + builder
		}
		return esc(builder, maxField)
	}
	// line starts a line about a builder and branch: "✅ docs on <code>main</code>".
	line := func(icon, conn, builder, branch string) string {
		l := icon + " " + name(conn, builder)
		if branch != "" {
			l += " on " + code(branch, maxField)
		}
		return l
	}
	if d.Empty() {
		b.WriteString("\nNo builds in this period, and nothing is broken.")
		return b.String()
	}
	total := 0
	for _, c := range d.Builders {
		total += c.Builds
	}
	if len(d.Builders) == 0 {
		b.WriteString("\nNo builds in this period.\n")
	} else {
		fmt.Fprintf(&b, "\n<b>%s</b> on %s:\n", plural(total, "build"), plural(len(d.Builders), "builder"))
		for _, c := range d.Builders {
			fmt.Fprintf(&b, "• %s: %d (%s)\n", name(c.Conn, c.Builder), c.Builds, countText(c))
		}
	}
	if len(d.Broken) > 0 {
		fmt.Fprintf(&b, "\n<b>Still broken</b> (%d):\n", len(d.Broken))
		for _, br := range d.Broken {
			b.WriteString(breakageLine(br, d.To, showConn) + "\n")
		}
	}
	if len(d.Recovered) > 0 {
		fmt.Fprintf(&b, "\n<b>Recovered</b> (%d):\n", len(d.Recovered))
		for _, r := range d.Recovered {
			l := line("✅", r.Conn, r.Builder, r.Branch) + " with " + buildNumber(&r)
			if who := people(&r); who != "" {
				l += " by " + who
			}
			b.WriteString(l + "\n")
		}
	}
	if len(d.Flaky) > 0 {
		fmt.Fprintf(&b, "\n<b>Flaky</b> (%d):\n", len(d.Flaky))
		for _, f := range d.Flaky {
			fmt.Fprintf(&b, "%s: results flipped %d times\n", line("🔀", f.Conn, f.Builder, f.Branch), f.Flips)
		}
	}
	if len(d.Slowest) > 0 {
		b.WriteString("\n<b>Slowest</b>:\n")
		for _, s := range d.Slowest {
			fmt.Fprintf(&b, "🐢 %s %s: %s\n", name(s.Conn, s.Builder), buildNumber(&s), formatDuration(s.FinishedAt.Sub(s.StartedAt)))
		}
	}
	return tghtml.Cut(strings.TrimSuffix(b.String(), "\n"), MaxMessageLength)
}

// countText is how a builder's builds ended: "3 ✅ 1 ❌ 1 other".
func countText(c store.BuilderCount) string {
	var parts []string
	if c.Good > 0 {
		parts = append(parts, fmt.Sprintf("%d ✅", c.Good))
	}
	if c.Bad > 0 {
		parts = append(parts, fmt.Sprintf("%d ❌", c.Bad))
	}
	if c.Other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", c.Other))
	}
	return strings.Join(parts, " ")
}

// plural is "1 build", "2 builds".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
