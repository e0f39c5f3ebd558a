package commands

import (
	"context"
	"fmt"
	"strings"
)

const ackHelp = "/ack NAME stops the reminders (/remind) of builder NAME's current breakage here; " +
	"the Ack button under a problem message does the same for that breakage. " +
	"When the builder is fixed and breaks again, the new breakage reminds again."

// AckData is the Data of the Ack button the notifier puts under a problem message of build
// buildID on CI connection conn, in a chat with reminders on: the build that broke it names
// the breakage.
func AckData(conn, buildID string) string {
	return btn{Act: "ack", Conn: conn, Build: buildID}.data("ack")
}

// AckLabel is the Ack button's text.
const AckLabel = "✔️ Ack"

// Ack answers /ack and the Ack button.
func (t Timely) Ack() Command {
	return Command{
		Name:    "ack",
		Summary: "stop the reminders of a broken builder",
		Help:    ackHelp,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				return t.ackPress(ctx, req)
			}
			if !req.Person() {
				return Say(Escape(notPerson(req, "who acknowledges"))), nil
			}
			if len(req.Args) != 1 {
				return Say("Use /ack NAME, e.g. /ack docs (see /help ack)."), nil
			}
			conn, name := t.splitTyped(req.Args[0])
			branches, err := t.Settings.AckBroken(ctx, req.ChatID, req.ThreadID, conn, name, req.UserID, displayName(req), t.now())
			if err != nil {
				return Response{}, err
			}
			if len(branches) == 0 {
				return Say(fmt.Sprintf("%s is not broken now: nothing to acknowledge.", Escape(req.Args[0]))), nil
			}
			return Say(fmt.Sprintf("✔️ %s acknowledged %s (%s): no more reminders of this breakage here.",
				Escape(displayName(req)), Escape(req.Args[0]), Escape(strings.Join(branchNames(branches), ", ")))), nil
		}),
	}
}

// ackPress answers the Ack button: the press's notice says it worked, and a message tells
// the chat who acknowledged, since the reminders stop for everyone here.
func (t Timely) ackPress(ctx context.Context, req Request) (Response, error) {
	b, err := parseBtn("ack", req.Button.Data)
	if err != nil || b.Act != "ack" || b.Conn == "" || b.Build == "" {
		return badButton(), nil
	}
	if !req.Person() {
		return Response{Notice: notPerson(req, "who acknowledges")}, nil
	}
	builder, found, err := t.Settings.AckBuild(ctx, req.ChatID, req.ThreadID, b.Conn, b.Build, req.UserID, displayName(req), t.now())
	if err != nil {
		return Response{}, err
	}
	if !found {
		return Response{Notice: "I know nothing of that build any more."}, nil
	}
	return Response{Notice: "Acknowledged: no more reminders of this breakage here.",
		Replies: []Reply{{Text: fmt.Sprintf("✔️ %s acknowledged %s: no more reminders of this breakage here.",
			Escape(displayName(req)), Escape(t.label(b.Conn, builder)))}}}, nil
}

// branchNames shows the default branch ("") as such.
func branchNames(branches []string) []string {
	out := make([]string, len(branches))
	for i, b := range branches {
		out[i] = b
		if b == "" {
			out[i] = "default branch"
		}
	}
	return out
}
