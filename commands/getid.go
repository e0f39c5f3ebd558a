package commands

import (
	"context"
	"fmt"
)

// GetID tells the user their Telegram ids, as Buildbot's /getid does: the numbers the admin
// puts in the authz matrix and in default chats. Someone writing as the group (an anonymous
// admin) or as a channel has no id of their own in the message: Telegram shows a placeholder
// user shared by everyone who posts that way, and /getid says so instead of handing out a
// number that, put in authz, would grant every such sender everywhere.
func GetID() Command {
	return Command{
		Name:    "getid",
		Summary: "get user and chat ID",
		Help:    "Shows your Telegram user id; in a group also the chat id, and in a forum topic the topic id. Put these numbers in herald's config (authz, default chats). Written anonymously or as a channel, it says so: that id is Telegram's placeholder, not yours.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			var text string
			switch req.Actor {
			case ActorAnonymousAdmin:
				text = fmt.Sprintf("You are writing as the group (an anonymous admin). Telegram shows everyone who does that, in every group, as the same placeholder user <code>%d</code>: it is not your ID and names nobody, so it cannot be given rights in herald's config.\n"+
					"To see your own ID, send /getid without staying anonymous, or in a private chat with me.", req.UserID)
			case ActorChannel:
				text = fmt.Sprintf("You are posting as the channel %s (ID <code>%d</code>). Telegram shows everyone who posts as a channel as the same placeholder user <code>%d</code>: it is not your ID and names nobody, so it cannot be given rights in herald's config.\n"+
					"To see your own ID, send /getid as yourself, or in a private chat with me.", senderChatName(req), req.SenderChatID, req.UserID)
			default:
				text = fmt.Sprintf("Your ID is <code>%d</code>.", req.UserID)
			}
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

// senderChatName is the channel a request is posted as, escaped for HTML.
func senderChatName(req Request) string {
	if req.SenderChatTitle == "" {
		return "(no title)"
	}
	return "“" + Escape(req.SenderChatTitle) + "”"
}
