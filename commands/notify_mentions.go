package commands

import (
	"context"
	"fmt"
	"time"
)

// MentionStore keeps whether a group (or one of its topics) wants problem messages to
// mention who broke the build (/notify mentions on|off). It is optional: a Storage without
// it (a test's fake) has no such setting, and /notify says so.
type MentionStore interface {
	SetMentions(ctx context.Context, chatID, threadID int64, on bool, at time.Time) error
	Mentions(ctx context.Context, chatID, threadID int64) (bool, error)
}

// setMentions is /notify mentions on|off. Mentions are off in groups until a chat turns
// them on, since a group may not want its members pinged; a private chat has them always:
// it is the person's own.
func (d Deps) setMentions(ctx context.Context, req Request, nc NotifyCommand) (Response, error) {
	ms, ok := d.Store.(MentionStore)
	if !ok {
		return Say("Mentions are not available here."), nil
	}
	if req.Private() {
		return Say("In a private chat problem messages always mention you when you broke the build (see /iam)."), nil
	}
	if err := ms.SetMentions(ctx, req.ChatID, req.ThreadID, nc.Switch, d.now()); err != nil {
		return Response{}, fmt.Errorf("commands: notify: %w", err)
	}
	where := "this chat"
	if req.ThreadID != 0 {
		where = "this topic"
	}
	if nc.Switch {
		return Say("Mentions on: problem messages in " + where + " mention who broke the build, when they linked their CI identity (/iam)."), nil
	}
	return Say("Mentions off: problem messages in " + where + " mention nobody."), nil
}

// mentionsLine is /notify list's line on mentions, "" without a MentionStore.
func (d Deps) mentionsLine(ctx context.Context, req Request) (string, error) {
	ms, ok := d.Store.(MentionStore)
	if !ok {
		return "", nil
	}
	if req.Private() {
		return "\nMentions: always, in a private chat (/iam links you).", nil
	}
	on, err := ms.Mentions(ctx, req.ChatID, req.ThreadID)
	if err != nil {
		return "", fmt.Errorf("commands: notify: %w", err)
	}
	if on {
		return "\nMentions of who broke a build: on (/notify mentions off).", nil
	}
	return "\nMentions of who broke a build: off (/notify mentions on).", nil
}
