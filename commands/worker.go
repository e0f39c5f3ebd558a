package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Worker answers /worker pause|unpause|stop NAME [reason]: a CI's worker control actions
// (ci.WorkerController; Buildbot's pause, unpause and graceful stop), which is what Buildbot's
// REST API offers where its own bot has /shutdown. A typed command names what it acts on, so
// it acts at once, without a confirm button; the sender is decided on right before the CI is
// called, and every attempt is audited.
func Worker(d Deps) Command {
	return Command{
		Name:      "worker",
		Summary:   "pause, unpause or stop a worker",
		Dangerous: true,
		Help: "/worker pause NAME stops a worker from starting new builds (the running ones go on); " +
			"/worker unpause NAME lets it take builds again; /worker stop NAME shuts it down gracefully: " +
			"it disconnects once its running builds end. Anything after NAME is the reason. " +
			"With several CI connections write CONN/NAME. /list workers shows the workers.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			actions := map[string]ci.WorkerAction{"pause": ci.WorkerPause, "unpause": ci.WorkerUnpause, "stop": ci.WorkerStop}
			if len(req.Args) < 2 || actions[strings.ToLower(req.Args[0])] == "" {
				return Say("Usage: /worker pause|unpause|stop NAME [reason]. /list workers shows the workers."), nil
			}
			action := actions[strings.ToLower(req.Args[0])]
			reason := strings.Join(req.Args[2:], " ")
			return d.control(ctx, req, "worker", req.Args[1], isWorkerController, func(ctx context.Context, p ci.Provider, name string) error {
				by := fmt.Sprintf("by %s (telegram %d)", displayName(req), req.UserID)
				if reason != "" {
					by = reason + " (" + by + ")"
				}
				return p.(ci.WorkerController).ControlWorker(ctx, name, action, by)
			}, workerDone(action))
		}),
	}
}

func isWorkerController(p ci.Provider) bool { _, ok := p.(ci.WorkerController); return ok }

// workerDone is what the chat is told after action on a worker; who and name are escaped.
func workerDone(action ci.WorkerAction) func(who, name string) string {
	return func(who, name string) string {
		switch action {
		case ci.WorkerPause:
			return fmt.Sprintf("⏸ %s paused worker <b>%s</b>: it starts no new builds (running ones go on). /worker unpause %s undoes it.", who, name, name)
		case ci.WorkerUnpause:
			return fmt.Sprintf("▶️ %s unpaused worker <b>%s</b>: it takes builds again.", who, name)
		default:
			return fmt.Sprintf("⏹ %s asked worker <b>%s</b> to stop: it disconnects once its running builds end.", who, name)
		}
	}
}

// notABuilder is the builder dangerous commands about workers and schedulers are decided on.
// No ordinary builder glob matches it (only catch-alls such as "*" do), so a right limited to
// some builders ("you may force docs-*") grants nothing over the CI's workers or schedulers:
// those need a rule that is not limited to builders.
const notABuilder = "\x00"

// control runs one typed worker or scheduler action: find the connection (CONN/NAME, or the
// only one able to), decide on the sender, call the CI, audit, and say what happened.
func (d Deps) control(ctx context.Context, req Request, command, typed string, able func(ci.Provider) bool,
	act func(ctx context.Context, p ci.Provider, name string) error, done func(who, name string) string) (Response, error) {
	args := strings.Join(req.Args, " ")
	conn, name := d.splitTyped(typed)
	var p ci.Provider
	if conn != "" {
		if q, ok := d.provider(conn); ok && able(q) {
			p = q
		}
	} else {
		var candidates []ci.Provider
		for _, q := range d.CI {
			if able(q) {
				candidates = append(candidates, q)
			}
		}
		switch len(candidates) {
		case 0:
		case 1:
			p = candidates[0]
		default:
			return Say(fmt.Sprintf("Several CI connections have %ss: write CONN/%s (e.g. %s/%s).",
				command, Escape(name), Escape(candidates[0].Name()), Escape(name))), nil
		}
	}
	if p == nil {
		return Say(fmt.Sprintf("No CI connection here can control %ss.", command)), nil
	}
	if why := d.decideControl(ctx, req, command, args, p.Name()); why != "" {
		return Say(Escape(why)), nil
	}
	cctx, cancel := d.ciContext(ctx)
	err := act(cctx, p, name)
	cancel()
	if timedOut(err) {
		d.audit(ctx, req, command, args, p.Name(), "", auditFailed,
			fmt.Sprintf("the CI did not answer in %s; it may have acted", d.ciTimeoutText()))
		return Say(Escape(d.slowCI(p.Name())) + " It may have acted all the same."), nil
	}
	if err != nil {
		d.audit(ctx, req, command, args, p.Name(), "", auditFailed, err.Error())
		return Response{}, d.ciError(p.Name(), err, command)
	}
	d.audit(ctx, req, command, args, p.Name(), "", auditAllowed, "")
	return Say(done(Escape(displayName(req)), Escape(d.label(p.Name(), name)))), nil
}

// decideControl is decide for commands that act on a whole CI rather than on a builder (see
// notABuilder): "" when allowed, else the reason, audited.
func (d Deps) decideControl(ctx context.Context, req Request, command, args, conn string) string {
	if !req.Person() {
		d.audit(ctx, req, command, args, conn, "", auditDenied, notPersonDetail(req))
		return notPerson(req, "who may /"+command)
	}
	if d.matrix().Decide(req.UserID, command, notABuilder).Allowed {
		return ""
	}
	reason := "you may not use /" + command
	d.audit(ctx, req, command, args, conn, "", auditDenied, reason)
	return capitalize(reason) + "."
}
