package commands

import (
	"context"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Shutdown answers /shutdown. Buildbot's own bot shuts its master down from inside the
// master; herald talks to Buildbot over its REST API, which has no master shutdown, so the
// command explains that and points to what herald can do instead. It changes nothing, so it
// is a safe command: everyone may ask.
func Shutdown(d Deps) Command {
	return Command{
		Name:    "shutdown",
		Summary: "why herald cannot shut the master down, and what it can do",
		Help:    "/shutdown explains that Buildbot's REST API offers no master shutdown, and lists what herald offers instead.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			lines := []string{"I cannot shut the build master down: Buildbot's REST API, which I talk to, offers no master shutdown " +
				"(Buildbot's own bot runs inside the master). On the master's host, <code>buildbot cleanshutdown BASEDIR</code> " +
				"shuts it down once running builds end, <code>buildbot stop BASEDIR</code> at once."}
			var offers []string
			if d.anyCI(isWorkerController) {
				offers = append(offers, "/worker pause NAME — a worker starts no new builds (/worker unpause NAME undoes it)",
					"/worker stop NAME — a worker disconnects once its running builds end")
			}
			if d.anyCI(isSchedulerController) {
				offers = append(offers, "/scheduler disable NAME — a scheduler starts no builds (/scheduler enable NAME undoes it)")
			}
			if d.anyCI(isStopper) {
				offers = append(offers, "/stop — stop a running build")
			}
			if len(offers) > 0 {
				lines = append(lines, "What I can do instead, if you are allowed to:")
				lines = append(lines, offers...)
			}
			return Say(strings.Join(lines, "\n")), nil
		}),
	}
}

// anyCI reports whether some CI connection has a capability.
func (d Deps) anyCI(able func(ci.Provider) bool) bool {
	for _, p := range d.CI {
		if able(p) {
			return true
		}
	}
	return false
}
