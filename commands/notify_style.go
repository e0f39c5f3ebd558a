package commands

import (
	"context"
	"fmt"
)

// setStyle answers /notify cards on|off and /notify sound on|off, which apply to the whole
// chat (Telegram edits and sounds are per chat, not per topic).
func (d Deps) setStyle(ctx context.Context, req Request, nc NotifyCommand) (Response, error) {
	cards, loud, err := d.Store.ChatStyle(ctx, req.ChatID)
	if err != nil {
		return Response{}, err
	}
	if nc.Action == "cards" {
		cards = nc.Switch
	} else {
		loud = nc.Switch
	}
	if err := d.Store.SetChatStyle(ctx, req.ChatID, cards, loud); err != nil {
		return Response{}, err
	}
	return Say(styleText(cards, loud)), nil
}

func styleText(cards, loud bool) string {
	c := "a build's start message is edited into its result"
	if !cards {
		c = "a build's start and result are separate messages"
	}
	s := "successes arrive silently"
	if loud {
		s = "successes make a sound"
	}
	return fmt.Sprintf("In this chat %s, and %s. Problems and recoveries are always new messages with sound.", c, s)
}
