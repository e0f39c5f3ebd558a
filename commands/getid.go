package commands

import (
	"context"
	"fmt"
)

// GetID tells the user their Telegram ids, as Buildbot's /getid does: the numbers the admin
// puts in the authz matrix and in default chats.
func GetID() Command {
	return Command{
		Name:    "getid",
		Summary: "get user and chat ID",
		Help:    "Shows your Telegram user id; in a group also the chat id, and in a forum topic the topic id. Put these numbers in herald's config (authz, default chats).",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			text := fmt.Sprintf("Your ID is <code>%d</code>.", req.UserID)
			if !req.Private() {
				text += fmt.Sprintf("\nThis chat's ID is <code>%d</code>.", req.ChatID)
			}
			if req.ThreadID != 0 {
				text += fmt.Sprintf("\nThis topic's ID is <code>%d</code>.", req.ThreadID)
			}
			return Say(text), nil
		}),
	}
}
