package commands

import (
	"fmt"
)

// notPerson explains to a request whose UserID names nobody (Request.Person is false) why
// herald will not do something that depends on who asks. check is what herald cannot check,
// e.g. "who may /force". Plain text: callers escape it for a message.
//
// Such requests are refused rather than decided on their placeholder id: 1087968824 is every
// anonymous admin of every group, so a rule naming it would grant /force to all of them.
func notPerson(req Request, check string) string {
	switch req.Actor {
	case ActorAnonymousAdmin:
		return fmt.Sprintf("You are writing as the group (anonymous admin): Telegram does not tell me who you are, "+
			"so I cannot check %s. Turn off \"Remain anonymous\" in your admin rights, or write from your own account.", check)
	case ActorChannel:
		channel := "a channel"
		if req.SenderChatTitle != "" {
			channel = "the channel " + req.SenderChatTitle
		}
		return fmt.Sprintf("You are writing as %s: Telegram does not tell me who you are, "+
			"so I cannot check %s. Write from your own account.", channel, check)
	case ActorAutoForward:
		return fmt.Sprintf("This is a channel post forwarded into the group: it names nobody, so I cannot check %s. "+
			"Send the command from your own account.", check)
	default:
		return fmt.Sprintf("Telegram does not tell me who sent this, so I cannot check %s. Write from your own account.", check)
	}
}

// notPersonDetail is the audit log's word on a refused request from nobody in particular.
func notPersonDetail(req Request) string {
	d := fmt.Sprintf("sender is not a person's own account (%s)", req.Actor)
	if req.SenderChatID != 0 {
		d += fmt.Sprintf(", sender chat %d", req.SenderChatID)
	}
	return d
}
