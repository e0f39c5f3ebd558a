package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// Stop answers /stop [builder]: a keyboard of running builds → the reason (the user's next
// message, or none) → confirm; then the build is cancelled on the CI and the chat told. The
// presser of the confirm button is checked against the matrix with the builder right before
// the CI is called, and the attempt is audited.
func Stop(d Deps) Command {
	return Command{
		Name:      "stop",
		Summary:   "stop a running build",
		Dangerous: true,
		Help: "/stop shows the running builds you may stop; press one, send the reason (or press " +
			"\"without a reason\"), then confirm. /stop NAME shows only that builder's builds. /nay cancels.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				return d.stopPress(ctx, req)
			}
			typed := ""
			if len(req.Args) > 0 {
				typed = req.Args[0]
			}
			return d.stopList(ctx, req, typed, 0)
		}),
	}
}

// stopList offers the running builds the user may stop, page page of them; typed, when set,
// keeps only that builder's.
func (d Deps) stopList(ctx context.Context, req Request, typed string, page int) (Response, error) {
	m := d.matrix()
	var rows [][]Button
	var problems []string
	for _, p := range d.CI {
		if !isStopper(p) {
			continue
		}
		cctx, cancel := d.ciContext(ctx)
		running, err := p.RunningBuilds(cctx)
		cancel()
		if err != nil {
			problems = append(problems, d.unreachable(p.Name(), err, "stop: running builds"))
			continue
		}
		for _, r := range running {
			if typed != "" && !d.matches(typed, p.Name(), r.Builder) {
				continue
			}
			if !m.Decide(req.UserID, "stop", r.Builder).Allowed {
				continue
			}
			text := d.label(p.Name(), r.Builder) + " " + r.NumberText()
			if r.CurrentStep != "" {
				text += " (" + r.CurrentStep + ")"
			}
			rows = append(rows, []Button{{Text: text, Data: btn{Act: "pick", Conn: p.Name(), Build: r.ID}.data("stop")}})
		}
	}
	if len(rows) == 0 {
		msg := "No running build you may stop."
		if typed != "" {
			msg = fmt.Sprintf("%s has no running build you may stop.", Escape(typed))
		}
		return Response{Replies: []Reply{edit(req, strings.Join(append(problems, msg), "\n"), nil)}}, nil
	}
	kb, shown, pages := paginate(rows, page, func(p int) string { return btn{Act: "list", Value: typed, Page: p}.data("stop") })
	text := strings.Join(append(problems, "Which build should I stop?"+pageNote(shown, pages)), "\n")
	return Response{Replies: []Reply{edit(req, text, kb)}}, nil
}

func (d Deps) stopPress(ctx context.Context, req Request) (Response, error) {
	b, err := parseBtn("stop", req.Button.Data)
	if err != nil {
		return badButton(), nil
	}
	switch b.Act {
	case "pick":
		return d.stopPick(ctx, req, b)
	case "list":
		return d.stopList(ctx, req, b.Value, b.Page)
	}
	c, stale, err := d.ownConvo(ctx, req, b, "stop")
	if err != nil || stale != nil {
		return derefOr(stale), err
	}
	switch b.Act {
	case "cancel":
		if _, err := d.Store.EndConversation(ctx, c.id); err != nil {
			return Response{}, err
		}
		return Response{Replies: []Reply{{Edit: true, Text: "Cancelled: nothing was stopped."}}}, nil
	case "go":
		return d.stopGo(ctx, req, c)
	default:
		return badButton(), nil
	}
}

// stopPick starts the user's conversation about one running build and asks for the reason.
func (d Deps) stopPick(ctx context.Context, req Request, b btn) (Response, error) {
	p, ok := d.provider(b.Conn)
	if !ok {
		return staleButton(req, "stop"), nil
	}
	cctx, cancel := d.ciContext(ctx)
	build, err := p.Build(cctx, b.Build)
	cancel()
	if errors.Is(err, ci.ErrNotFound) {
		return staleButton(req, "stop"), nil
	}
	if err != nil {
		return d.pressFailed(b.Conn, err, "stop: build")
	}
	if build.Conn == "" {
		build.Conn = b.Conn
	}
	if build.Complete {
		return Response{Notice: "That build has finished.", Replies: []Reply{{Edit: true,
			Text: fmt.Sprintf("%s has already finished: %s.", d.buildRef(build), resultText(build))}}}, nil
	}
	if why := d.decide(ctx, req, "stop", requestArgs(req), b.Conn, build.Builder); why != "" {
		// The keyboard may be someone else's (a forced build's Stop button): leave it alone.
		return Response{Notice: why}, nil
	}
	c := convo{Command: "stop", Conn: b.Conn, Builder: build.Builder, BuildID: build.ID, Number: build.Number,
		Asking: "reason", MessageID: req.MessageID}
	if err := d.startConvo(ctx, req, &c); err != nil {
		return Response{}, err
	}
	q := fmt.Sprintf("Stop %s? Send me the reason as your next message", d.buildRef(build))
	if !req.Private() {
		q += " (reply to this message)"
	}
	q += ", or press a button."
	kb := [][]Button{{
		{Text: "⏹ Stop without a reason", Data: btn{Act: "go", Conv: c.id, User: req.UserID}.data("stop")},
		{Text: "✖ Cancel", Data: btn{Act: "cancel", Conv: c.id, User: req.UserID}.data("stop")},
	}}
	// A new message: the pressed one may be a notification that should keep its text.
	return Response{Replies: []Reply{{Text: q, Keyboard: kb}}}, nil
}

// stopAnswer takes the user's message as the reason and asks to confirm.
func (d Deps) stopAnswer(ctx context.Context, req Request, c convo) (Response, error) {
	c.Reason = strings.TrimSpace(req.Text)
	c.Asking = ""
	found, err := d.saveConvo(ctx, c)
	if err != nil {
		return Response{}, err
	}
	if !found {
		return Say("That /stop has ended. Send /stop to start again."), nil
	}
	text := fmt.Sprintf("Stop <b>%s #%d</b> because “%s”?", Escape(d.label(c.Conn, c.Builder)), c.Number, Escape(c.Reason))
	kb := [][]Button{{
		{Text: "⏹ Stop it", Data: btn{Act: "go", Conv: c.id, User: req.UserID}.data("stop")},
		{Text: "✖ Cancel", Data: btn{Act: "cancel", Conv: c.id, User: req.UserID}.data("stop")},
	}}
	return Response{Replies: []Reply{{Text: text, Keyboard: kb}}}, nil
}

// stopGo is the confirm button: the matrix with the builder, then the CI.
func (d Deps) stopGo(ctx context.Context, req Request, c convo) (Response, error) {
	args := fmt.Sprintf("build=%s #%d", c.BuildID, c.Number)
	if c.Reason != "" {
		args += " reason=" + c.Reason
	}
	name := fmt.Sprintf("%s #%d", Escape(d.label(c.Conn, c.Builder)), c.Number)
	p, done, err := d.lastPress(ctx, req, c, "stop", args, "stopped", isStopper)
	if p == nil || err != nil {
		return done, err
	}
	reason := c.Reason
	if reason == "" {
		reason = "no reason given"
	}
	reason = fmt.Sprintf("%s (by %s, telegram %d)", reason, displayName(req), req.UserID)
	// Watched before the CI is asked, so the chat hears how the build ended (cancelled, or
	// finished before the stop arrived) however quickly the CI reports it. A failed stop
	// leaves a watch of a running build, which ends with it.
	if _, err := d.Store.AddWatch(ctx, req.ChatID, req.ThreadID, c.Conn, c.BuildID, c.Builder, req.UserID); err != nil {
		d.audit(ctx, req, "stop", args, c.Conn, c.Builder, auditFailed, "not sent to the CI: "+err.Error())
		return Response{}, err
	}
	cctx, cancel := d.ciContext(ctx)
	err = p.(ci.Stopper).Stop(cctx, c.BuildID, reason)
	cancel()
	if timedOut(err) {
		d.audit(ctx, req, "stop", args, c.Conn, c.Builder, auditFailed,
			fmt.Sprintf("the CI did not answer in %s; the build may have been stopped", d.ciTimeoutText()))
		return d.noAnswer(c.Conn, "The build may have been stopped all the same; I will say here how it ends."), nil
	}
	if err != nil {
		d.audit(ctx, req, "stop", args, c.Conn, c.Builder, auditFailed, err.Error())
		return Response{}, d.ciError(c.Conn, err, "stop")
	}
	d.audit(ctx, req, "stop", args, c.Conn, c.Builder, auditAllowed, "")
	text := fmt.Sprintf("⏹ %s asked to stop <b>%s</b>.", Escape(displayName(req)), name)
	if c.Reason != "" {
		text += " Reason: " + Escape(c.Reason)
	}
	text += " I will say here when it has stopped."
	return Response{Notice: "Stopping.", Replies: []Reply{{Edit: true, Text: text}}}, nil
}

func isStopper(p ci.Provider) bool { _, ok := p.(ci.Stopper); return ok }
