package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Last answers /last [builder|all]: the last completed build of each builder, with its
// result, age and the CI's state text.
func Last(d Deps) Command {
	return Command{
		Name:    "last",
		Summary: "list last build status for a builder",
		Help: "/last shows the last completed build of every online builder: result, age and state.\n" +
			"/last all includes offline builders; /last NAME shows one builder" + multiConnHint(d) + ".",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			which := ""
			if len(req.Args) > 0 {
				which = req.Args[0]
			}
			now := d.now()
			lines, shown := d.eachConn(ctx, func(ctx context.Context, p ci.Provider) ([]string, int) {
				v, err := d.view(ctx, p)
				if err != nil {
					return []string{d.unreachable(p.Name(), err, "last: "+v.doing)}, 0
				}
				var lines []string
				shown := 0
				for _, b := range v.builders {
					if !d.selected(which, p.Name(), b) {
						continue
					}
					shown++
					name := "<b>" + Escape(d.label(p.Name(), b.Name)) + "</b>"
					lb, ok, err := d.lastOf(ctx, v, b.Name)
					switch {
					case err != nil:
						lines = append(lines, d.unreachable(p.Name(), err, "last: last builds")+" ("+name+")")
					case !ok:
						lines = append(lines, "▫️ "+name+": no builds yet")
					default:
						line := fmt.Sprintf("%s %s: %s, %s", resultIcon(lb.Result), d.buildRef(lb), resultText(lb), ago(now, lb.FinishedAt))
						if lb.StateText != "" {
							line += " — " + Escape(lb.StateText)
						}
						lines = append(lines, line)
					}
				}
				if shown > 0 {
					lines = append(lines, d.asOf(v, now)...)
				}
				return lines, shown
			})
			if shown == 0 {
				lines = append(lines, noneSelected("last", which))
			}
			return Say(strings.Join(lines, "\n")), nil
		}),
	}
}
