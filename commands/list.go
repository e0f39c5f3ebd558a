package commands

import (
	"context"
	"fmt"
	"strings"
)

// List answers /list builders|workers [all] and /list changes [N].
func List(d Deps) Command {
	return Command{
		Name:    "list",
		Summary: "list configured builders, workers or recent changes",
		Help: "/list builders lists the online builders; /list builders all lists every builder, " +
			"offline ones marked.\n/list workers lists the connected workers, busy ones marked; " +
			"/list workers all lists every worker, disconnected ones marked.\n" +
			"/list changes [N] lists the newest N changes the CI has seen (10 unless said, at most 50): " +
			"author, revision, branch and the first line of the comments.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if len(req.Args) == 0 {
				return Say("What should I list? Send /list builders, /list workers (add <code>all</code> to include offline ones) or /list changes."), nil
			}
			if a := strings.ToLower(req.Args[0]); a == "changes" || a == "change" {
				return d.listChanges(ctx, req.Args[1:]), nil
			}
			all := len(req.Args) > 1 && strings.EqualFold(req.Args[1], "all")
			switch strings.ToLower(req.Args[0]) {
			case "builders", "builder":
				return d.listBuilders(ctx, all), nil
			case "workers", "worker":
				return d.listWorkers(ctx, all), nil
			default:
				return Say(fmt.Sprintf("I cannot list %s. Send /list builders, /list workers or /list changes.", Escape(req.Args[0]))), nil
			}
		}),
	}
}

func (d Deps) listBuilders(ctx context.Context, all bool) Response {
	var lines []string
	hidden := 0
	for _, p := range d.CI {
		cctx, cancel := d.ciContext(ctx)
		builders, err := p.Builders(cctx)
		cancel()
		if err != nil {
			lines = append(lines, d.unreachable(p.Name(), err, "list builders"))
			continue
		}
		for _, b := range builders {
			name := Escape(d.label(p.Name(), b.Name))
			switch {
			case b.Online:
				lines = append(lines, "• "+name)
			case all:
				lines = append(lines, "• "+name+" (offline)")
			default:
				hidden++
			}
		}
	}
	return Say(listText("Builders", lines, hidden, "offline", "/list builders all"))
}

func (d Deps) listWorkers(ctx context.Context, all bool) Response {
	var lines []string
	hidden := 0
	for _, p := range d.CI {
		cctx, cancel := d.ciContext(ctx)
		workers, err := p.Workers(cctx)
		cancel()
		if err != nil {
			lines = append(lines, d.unreachable(p.Name(), err, "list workers"))
			continue
		}
		for _, w := range workers {
			name := Escape(d.label(p.Name(), w.Name))
			switch {
			case w.Connected && w.Busy:
				lines = append(lines, "• "+name+" (busy)")
			case w.Connected:
				lines = append(lines, "• "+name)
			case all:
				lines = append(lines, "• "+name+" (disconnected)")
			default:
				hidden++
			}
		}
	}
	return Say(listText("Workers", lines, hidden, "disconnected", "/list workers all"))
}

func listText(title string, lines []string, hidden int, state, more string) string {
	var b strings.Builder
	b.WriteString("<b>" + title + "</b>\n")
	if len(lines) == 0 {
		b.WriteString("none")
	} else {
		b.WriteString(strings.Join(lines, "\n"))
	}
	if hidden > 0 {
		fmt.Fprintf(&b, "\n%d more %s; %s shows them.", hidden, state, more)
	}
	return b.String()
}
