package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// Status answers /status [builder|all]: each builder idle, running (with the step and a link)
// or offline, and its last result. It is never silent: when nothing matches it says so.
func Status(d Deps) Command {
	return Command{
		Name:    "status",
		Summary: "list status of a builder (or all builders)",
		Help: "/status shows the online builders: idle, running (with the current step and a link) " +
			"or offline, and the last result.\n/status all shows every builder, offline ones too.\n" +
			"/status NAME shows one builder" + multiConnHint(d) + ".",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			return d.status(ctx, req)
		}),
	}
}

func multiConnHint(d Deps) string {
	if len(d.CI) > 1 {
		return " (write it as CONNECTION/NAME)"
	}
	return ""
}

func (d Deps) status(ctx context.Context, req Request) (Response, error) {
	which := ""
	if len(req.Args) > 0 {
		which = req.Args[0]
	}
	now := d.now()
	var lines []string
	shown := 0
	for _, p := range d.CI {
		builders, err := p.Builders(ctx)
		if err != nil {
			lines = append(lines, d.unreachable(p.Name(), err, "status: builders"))
			continue
		}
		running, err := p.RunningBuilds(ctx)
		if err != nil {
			lines = append(lines, d.unreachable(p.Name(), err, "status: running builds"))
			continue
		}
		for _, b := range builders {
			if !d.selected(which, p.Name(), b) {
				continue
			}
			shown++
			lines = append(lines, d.builderStatus(ctx, p, b, running, now)...)
		}
	}
	if shown == 0 {
		lines = append(lines, noneSelected("status", which))
	}
	return Say(strings.Join(lines, "\n")), nil
}

// builderStatus is one builder's lines: its state, each running build, and its last result.
func (d Deps) builderStatus(ctx context.Context, p ci.Provider, b ci.Builder, running []ci.Build, now time.Time) []string {
	name := "<b>" + Escape(d.label(p.Name(), b.Name)) + "</b>"
	var mine []ci.Build
	for _, r := range running {
		if r.Builder == b.Name {
			mine = append(mine, r)
		}
	}
	last := "no builds yet"
	if lb, err := p.LastBuilds(ctx, b.Name, 1); err != nil {
		d.Log.Warn().Err(err).Str("conn", p.Name()).Str("builder", b.Name).Msg("commands: status: last build")
		last = "last build unknown"
	} else if len(lb) > 0 {
		last = fmt.Sprintf("last %s %s %s", d.buildRef(lb[0]), resultIcon(lb[0].Result), resultText(lb[0]))
		if !lb[0].FinishedAt.IsZero() {
			last += ", " + ago(now, lb[0].FinishedAt)
		}
	}
	var out []string
	switch {
	case len(mine) > 0:
		out = append(out, fmt.Sprintf("🔄 %s: running — %s", name, last))
		for _, r := range mine {
			line := "    " + d.buildRef(r)
			if r.CurrentStep != "" {
				line += ", step " + Escape(r.CurrentStep)
			}
			if !r.StartedAt.IsZero() {
				line += ", started " + ago(now, r.StartedAt)
			}
			out = append(out, line)
		}
	case !b.Online:
		out = append(out, fmt.Sprintf("⚫ %s: offline — %s", name, last))
	default:
		out = append(out, fmt.Sprintf("💤 %s: idle — %s", name, last))
	}
	return out
}
