package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// rerunPress is the "Re-run failed jobs" button under a failure (RerunData). One press
// re-runs, with no confirm step: the presser is decided on with the force right on the
// build's builder, right before the CI is called, and every attempt is audited. The button
// is one-shot per chat (ButtonStore.ClaimButton), so a second press, or a press of the same
// button on another message of the chat, starts nothing more, after a restart too. The chat
// follows the new attempt like a forced build: it hears when it starts and how it ends.
func (d Deps) rerunPress(ctx context.Context, req Request, b btn) (Response, error) {
	p, ok := d.provider(b.Conn)
	rb, able := p.(ci.Rebuilder)
	if !ok || !able {
		return Response{Notice: "That CI connection can no longer re-run builds."}, nil
	}
	cctx, cancel := d.ciContext(ctx)
	build, err := p.Build(cctx, b.Build)
	cancel()
	if errors.Is(err, ci.ErrNotFound) {
		return Response{Notice: "The CI no longer knows that build."}, nil
	}
	if err != nil {
		return d.pressFailed(b.Conn, err, "rerun: build")
	}
	if build.Conn == "" {
		build.Conn = b.Conn
	}
	args := fmt.Sprintf("rerun build=%s #%d", b.Build, build.Number)
	if why := d.decide(ctx, req, "force", args, b.Conn, build.Builder); why != "" {
		// The button is the chat's, not the presser's: it stays for someone who may.
		return Response{Notice: why}, nil
	}
	if !build.Complete {
		return Response{Notice: "That build has not finished yet."}, nil
	}
	first, err := d.Store.ClaimButton(ctx, req.ChatID, req.Button.Data)
	if err != nil {
		return Response{}, err
	}
	if !first {
		d.audit(ctx, req, "force", args, b.Conn, build.Builder, auditFailed, "already re-run from this chat")
		return Response{Notice: "Already re-run from this chat."}, nil
	}
	cctx, cancel = d.ciContext(ctx)
	res, err := rb.Rebuild(cctx, b.Build, fmt.Sprintf("%s (telegram %d)", displayName(req), req.UserID))
	cancel()
	name := fmt.Sprintf("<b>%s</b> %s", Escape(d.label(build.Conn, build.Builder)), build.NumberText())
	if timedOut(err) {
		// The request may have reached the CI: the button stays used, and the chat is told
		// what may have happened (in a message of its own: the failure keeps its text).
		d.audit(ctx, req, "force", args, b.Conn, build.Builder, auditFailed,
			fmt.Sprintf("the CI did not answer in %s; the re-run may have started", d.ciTimeoutText()))
		return Response{Notice: "The CI did not answer.", Replies: []Reply{{Text: Escape(d.slowCI(b.Conn)) +
			" The re-run of " + name + " may have started all the same: /status shows it."}}}, nil
	}
	if err != nil {
		// Nothing was started: the button works again.
		if rerr := d.Store.ReleaseButton(ctx, req.ChatID, req.Button.Data); rerr != nil {
			d.Log.Error().Err(rerr).Int64("chat_id", req.ChatID).Msg("commands: rerun: release the button")
		}
		d.audit(ctx, req, "force", args, b.Conn, build.Builder, auditFailed, err.Error())
		return Response{}, d.ciError(b.Conn, err, "rerun")
	}
	d.audit(ctx, req, "force", args, b.Conn, build.Builder, auditAllowed, res.Ref)
	done, err := d.follow(ctx, req, b.Conn, build.Builder, res.RequestIDs)
	if err != nil {
		return Response{}, err
	}
	text := "🔁 " + Escape(rb.RebuildLabel()) + ": " + name + "."
	switch {
	case len(done) > 0:
		text += " " + strings.Join(done, " ")
	case len(res.RequestIDs) > 0:
		text += " I will say here how it ends."
	default:
		text += " /status shows it." // the CI did not say which build it started
	}
	return Response{Notice: "Re-running.", Replies: []Reply{{Text: text}}}, nil
}
