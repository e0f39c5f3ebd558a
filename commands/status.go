package commands

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
	lines, shown := d.eachConn(ctx, func(ctx context.Context, p ci.Provider) ([]string, int) {
		v, err := d.view(ctx, p)
		if err != nil {
			return []string{d.unreachable(p.Name(), err, "status: "+v.doing)}, 0
		}
		var lines []string
		shown := 0
		for _, b := range v.builders {
			if !d.selected(which, p.Name(), b) {
				continue
			}
			shown++
			lines = append(lines, d.builderStatus(ctx, v, b, now)...)
		}
		if shown > 0 {
			lines = append(lines, d.asOf(v, now)...)
		}
		return lines, shown
	})
	if shown == 0 {
		lines = append(lines, noneSelected("status", which))
	}
	return Say(strings.Join(lines, "\n")), nil
}

// eachConn runs part, a command's lines for one CI connection, for every connection at once
// and joins their lines in the order of the connections; shown is the sum of what the parts
// showed. Asked one after another, each connection bounded by CITimeout, a few that do not
// answer would use up the handler's whole budget (HandlerBudget) and the user would hear
// "that took too long" instead of which CI did not answer. A part that panics panics here,
// in the handler, where the transport recovers it.
func (d Deps) eachConn(ctx context.Context, part func(ctx context.Context, p ci.Provider) (lines []string, shown int)) ([]string, int) {
	type result struct {
		lines []string
		shown int
		panic any
	}
	results := make([]result, len(d.CI))
	var wg sync.WaitGroup
	for i, p := range d.CI {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					results[i].panic = r
				}
			}()
			results[i].lines, results[i].shown = part(ctx, p)
		})
	}
	wg.Wait()
	var lines []string
	shown := 0
	for _, r := range results {
		if r.panic != nil {
			panic(r.panic)
		}
		lines = append(lines, r.lines...)
		shown += r.shown
	}
	return lines, shown
}

// builderStatus is one builder's lines: its state, each running build, and its last result.
func (d Deps) builderStatus(ctx context.Context, v ciView, b ci.Builder, now time.Time) []string {
	name := "<b>" + Escape(d.label(v.p.Name(), b.Name)) + "</b>"
	var mine []ci.Build
	for _, r := range v.running {
		if r.Builder == b.Name {
			mine = append(mine, r)
		}
	}
	last := "no builds yet"
	if lb, ok, err := d.lastOf(ctx, v, b.Name); err != nil {
		d.Log.Warn().Err(err).Str("conn", v.p.Name()).Str("builder", b.Name).Msg("commands: status: last build")
		last = "last build unknown"
	} else if ok {
		last = fmt.Sprintf("last %s %s %s", d.buildRef(lb), resultIcon(lb.Result), resultText(lb))
		if !lb.FinishedAt.IsZero() {
			last += ", " + ago(now, lb.FinishedAt)
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

// ciView is what /status and /last show of one CI connection. From a ci.Overviewer it is one
// overview, last builds included, and may come from the provider's short cache (at says
// when the CI was asked); from any other provider it is asked for piece by piece, and the
// last builds one builder at a time (last is nil).
type ciView struct {
	p        ci.Provider
	builders []ci.Builder
	running  []ci.Build
	last     map[string]ci.Build
	at       time.Time // zero: asked just now
	doing    string    // what failed, for the log, when view returns an error
}

// view asks p for what /status and /last show, each CI call bounded by CITimeout.
func (d Deps) view(ctx context.Context, p ci.Provider) (ciView, error) {
	v := ciView{p: p}
	if o, ok := p.(ci.Overviewer); ok {
		cctx, cancel := d.ciContext(ctx)
		ov, err := o.Overview(cctx)
		cancel()
		if err != nil {
			v.doing = "overview"
			return v, err
		}
		v.builders, v.running, v.last, v.at = ov.Builders, ov.Running, ov.Last, ov.At
		if v.last == nil {
			v.last = map[string]ci.Build{}
		}
		return v, nil
	}
	cctx, cancel := d.ciContext(ctx)
	builders, err := p.Builders(cctx)
	cancel()
	if err != nil {
		v.doing = "builders"
		return v, err
	}
	cctx, cancel = d.ciContext(ctx)
	running, err := p.RunningBuilds(cctx)
	cancel()
	if err != nil {
		v.doing = "running builds"
		return v, err
	}
	v.builders, v.running = builders, running
	return v, nil
}

// lastOf is the last completed build of builder in v: from the overview, or asked for.
func (d Deps) lastOf(ctx context.Context, v ciView, builder string) (ci.Build, bool, error) {
	if v.last != nil {
		b, ok := v.last[builder]
		return b, ok, nil
	}
	cctx, cancel := d.ciContext(ctx)
	defer cancel()
	lb, err := v.p.LastBuilds(cctx, builder, 1)
	if err != nil || len(lb) == 0 {
		return ci.Build{}, false, err
	}
	return lb[0], true, nil
}

// asOf is the line that says how old an answer from a cache is; none when it is fresh.
func (d Deps) asOf(v ciView, now time.Time) []string {
	if v.at.IsZero() {
		return nil
	}
	age := now.Sub(v.at)
	if age < time.Second {
		return nil
	}
	who := ""
	if len(d.CI) > 1 {
		who = Escape(v.p.Name()) + " "
	}
	return []string{fmt.Sprintf("<i>%sas of %d s ago</i>", who, int(age/time.Second))}
}
