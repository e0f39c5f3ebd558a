package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Scheduler answers /scheduler enable|disable NAME (ci.SchedulerController): a disabled
// scheduler starts no builds until it is enabled again, the other thing Buildbot's REST API
// offers for taking a master out of service. Decided, audited and done like /worker.
func Scheduler(d Deps) Command {
	return Command{
		Name:      "scheduler",
		Summary:   "enable or disable a scheduler",
		Dangerous: true,
		Help: "/scheduler disable NAME stops a scheduler from starting builds; /scheduler enable NAME " +
			"turns it back on. With several CI connections write CONN/NAME.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if len(req.Args) != 2 {
				return Say("Usage: /scheduler enable|disable NAME."), nil
			}
			var enable bool
			switch strings.ToLower(req.Args[0]) {
			case "enable":
				enable = true
			case "disable":
			default:
				return Say("Usage: /scheduler enable|disable NAME."), nil
			}
			return d.control(ctx, req, "scheduler", req.Args[1], isSchedulerController,
				func(ctx context.Context, p ci.Provider, name string) error {
					return p.(ci.SchedulerController).SetSchedulerEnabled(ctx, name, enable)
				},
				func(who, name string) string {
					if enable {
						return fmt.Sprintf("▶️ %s enabled scheduler <b>%s</b>: it starts builds again.", who, name)
					}
					return fmt.Sprintf("⏸ %s disabled scheduler <b>%s</b>: it starts no builds until /scheduler enable %s.", who, name, name)
				})
		}),
	}
}

func isSchedulerController(p ci.Provider) bool { _, ok := p.(ci.SchedulerController); return ok }
