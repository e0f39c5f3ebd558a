package commands

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/herald-ci/herald/ci"
)

// convo is a pending /force or /stop, stored as JSON in the conversations table so it goes on
// after a restart.
type convo struct {
	Command   string            `json:"command"` // "force" or "stop"
	Conn      string            `json:"conn"`
	Scheduler string            `json:"scheduler,omitempty"`
	Builder   string            `json:"builder"`
	Params    map[string]string `json:"params,omitempty"`
	Fields    []ci.ForceField   `json:"fields,omitempty"` // the scheduler's, as when /force began
	BuildID   string            `json:"build_id,omitempty"`
	Number    int               `json:"number,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	// Asking is the field whose value the next plain message answers ("" when waiting for a
	// button).
	Asking string `json:"asking,omitempty"`
	// MessageID is the last message of this conversation a button was pressed on: /nay
	// removes its keyboard.
	MessageID int `json:"message_id,omitempty"`

	id int64 // the row's id, not stored in the JSON
}

// loadConvo returns the user's pending conversation here; found is false when there is none
// or it expired.
func (d Deps) loadConvo(ctx context.Context, req Request) (convo, bool, error) {
	id, data, found, err := d.Store.Conversation(ctx, req.ChatID, req.ThreadID, req.UserID, d.now())
	if err != nil || !found {
		return convo{}, false, err
	}
	var c convo
	if err := json.Unmarshal(data, &c); err != nil {
		// A payload this herald cannot read (written by another version) is as good as gone.
		d.Log.Warn().Err(err).Int64("chat_id", req.ChatID).Msg("commands: unreadable conversation dropped")
		return convo{}, false, nil
	}
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.id = id
	return c, true, nil
}

// startConvo stores c as the user's new conversation here, replacing any other.
func (d Deps) startConvo(ctx context.Context, req Request, c *convo) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("commands: encode conversation: %w", err)
	}
	id, err := d.Store.StartConversation(ctx, req.ChatID, req.ThreadID, req.UserID, data, d.now().Add(d.ttl()))
	if err != nil {
		return err
	}
	c.id = id
	return nil
}

// saveConvo stores a changed conversation and gives it a fresh lease; found is false when it
// ended meanwhile.
func (d Deps) saveConvo(ctx context.Context, c convo) (bool, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return false, fmt.Errorf("commands: encode conversation: %w", err)
	}
	return d.Store.UpdateConversation(ctx, c.id, data, d.now().Add(d.ttl()))
}

// ownConvo finds the conversation a pressed button belongs to. A press by someone other than
// the owner gets a notice and changes nothing; a press on a keyboard whose conversation ended,
// expired or was replaced is stale.
func (d Deps) ownConvo(ctx context.Context, req Request, b btn, command string) (convo, *Response, error) {
	if b.User != 0 && b.User != req.UserID {
		return convo{}, &Response{Notice: fmt.Sprintf("This is someone else's /%s. Send /%s to start your own.", command, command)}, nil
	}
	c, found, err := d.loadConvo(ctx, req)
	if err != nil {
		return convo{}, nil, err
	}
	if !found || c.id != b.Conv || c.Command != command {
		r := staleButton(req, command)
		return convo{}, &r, nil
	}
	if req.MessageID != 0 {
		c.MessageID = req.MessageID
	}
	return c, nil, nil
}

// TextAnswers handles messages that are not commands: the answer to a pending question, a
// hint in a private chat with nothing pending, and silence in groups (people talk there).
func TextAnswers(d Deps) Handler {
	return HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
		c, found, err := d.loadConvo(ctx, req)
		if err != nil {
			return Response{}, err
		}
		switch {
		case found && c.Asking != "" && c.Command == "force":
			return d.forceAnswer(ctx, req, c)
		case found && c.Asking != "" && c.Command == "stop":
			return d.stopAnswer(ctx, req, c)
		case !req.Private():
			return Response{}, nil
		case found:
			return Say(fmt.Sprintf("Please use the buttons of your /%s above, or send /nay to cancel it.", c.Command)), nil
		default:
			return Say("I answer commands. Send /help to see them."), nil
		}
	})
}

// Nay cancels the user's pending conversation in this chat and removes its keyboard.
func Nay(d Deps) Command {
	return Command{
		Name:    "nay",
		Summary: "forget the current command",
		Help:    "/nay cancels the /force or /stop you have going in this chat and removes its buttons.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			data, found, err := d.Store.EndUserConversation(ctx, req.ChatID, req.ThreadID, req.UserID)
			if err != nil {
				return Response{}, err
			}
			if !found {
				return Say("There is nothing to cancel."), nil
			}
			var c convo
			_ = json.Unmarshal(data, &c) // an unreadable payload still ended; only the wording suffers
			var res Response
			if c.MessageID != 0 {
				res.Replies = append(res.Replies, Reply{Edit: true, MessageID: c.MessageID, Text: "Cancelled."})
			}
			what := "command"
			if c.Command != "" {
				what = "/" + c.Command
			}
			res.Replies = append(res.Replies, Reply{Text: fmt.Sprintf("OK, I forgot your %s.", what)})
			return res, nil
		}),
	}
}

// lastPress is where the final button of a /force or /stop conversation starts: the user
// who pressed is decided on now, the conversation is ended before anything happens (so a
// second press of the same button finds it gone), and the connection that will act is
// found, with the capability able (ci.Forcer for /force, ci.Stopper for /stop). Without one
// (p nil), done is the whole answer. past is "forced" or "stopped", for the chat.
func (d Deps) lastPress(ctx context.Context, req Request, c convo, command, args, past string, able func(ci.Provider) bool) (p ci.Provider, done Response, err error) {
	if why := d.decide(ctx, req, command, args, c.Conn, c.Builder); why != "" {
		if _, err := d.Store.EndConversation(ctx, c.id); err != nil {
			return nil, Response{}, err
		}
		return nil, Response{Notice: why, Replies: []Reply{{Edit: true, Text: Escape(why) + " Nothing was " + past + "."}}}, nil
	}
	ended, err := d.Store.EndConversation(ctx, c.id)
	if err != nil {
		return nil, Response{}, err
	}
	if !ended {
		return nil, staleButton(req, command), nil
	}
	p, ok := d.provider(c.Conn)
	if !ok || !able(p) {
		d.audit(ctx, req, command, args, c.Conn, c.Builder, auditFailed, "connection gone")
		return nil, Response{Replies: []Reply{{Edit: true, Text: "That CI connection is gone. Nothing was " + past + "."}}}, nil
	}
	return p, Response{}, nil
}
