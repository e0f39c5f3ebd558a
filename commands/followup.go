package commands

import (
	"context"
	"fmt"
)

// follow makes the chat of req hear how the builds a force or re-run started end: a
// follow-up per request id. A build the CI reported before the follow-up was added (a fast CI,
// a webhook ahead of the API's answer) is told now, in the returned lines: that it started
// (and the chat watches it to its end), or how it ended.
func (d Deps) follow(ctx context.Context, req Request, conn, builder string, requestIDs []string) ([]string, error) {
	var told []string
	for _, rid := range requestIDs {
		b, err := d.Store.AddFollowup(ctx, req.ChatID, req.ThreadID, conn, rid, builder, req.UserID)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		name := fmt.Sprintf("<b>%s</b> %s", Escape(d.label(b.Conn, b.Builder)), Escape(b.NumberText()))
		if b.Complete {
			l := LookOf(b.Result)
			told = append(told, fmt.Sprintf("It has finished already: %s %s %s.", l.Icon, name, Escape(l.Words)))
		} else {
			told = append(told, name+" has started; I will say here how it ends.")
		}
	}
	return told, nil
}
