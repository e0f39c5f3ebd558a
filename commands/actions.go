package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Action is a chat command the admin configured (actions: in the config) that calls another
// system over HTTP: /deploy api v2 becomes a signed POST, and what the system answers becomes
// the reply. Dangerous actions are decided by the authz matrix by name, like /force.
type Action struct {
	Name        string
	Description string
	Dangerous   bool
	Timeout     time.Duration // 0: DefaultActionTimeout
}

// DefaultActionTimeout is how long herald waits for an action's answer when the config says
// nothing.
const DefaultActionTimeout = 10 * time.Second

// ActionCall is what herald tells the system behind an action.
type ActionCall struct {
	Action    string
	Args      []string // what the user typed after /NAME; empty for a button press
	Data      string   // a pressed button's data, as the system gave it; "" for a typed command
	UserID    int64
	UserName  string
	ChatID    int64
	ChatType  string
	ThreadID  int64
	MessageID int
	At        time.Time
}

// ActionAnswer is what the system answered: plain text (never HTML: herald escapes it) and
// buttons.
type ActionAnswer struct {
	Text    string
	Buttons [][]ActionButton
}

// ActionButton is a link (URL) or a button whose press calls the action again with Data.
type ActionButton struct {
	Text string
	URL  string
	Data string
}

// ActionCaller calls the system behind an action. It is an interface so that this package
// stays free of HTTP and signing (bot/actions implements it) and tests use a fake.
type ActionCaller interface {
	CallAction(ctx context.Context, call ActionCall) (ActionAnswer, error)
}

// ActionStatusError is a non-2xx answer.
type ActionStatusError struct{ Status int }

func (e *ActionStatusError) Error() string {
	return fmt.Sprintf("commands: action answered %d", e.Status)
}

// ErrActionAnswer is an answer herald cannot read (bad JSON, too big, a button that is
// neither a link nor data).
var ErrActionAnswer = errors.New("commands: action answer cannot be read")

// maxActionText bounds the reply: Telegram takes 4096 characters, and the escaping and the
// name in front need room.
const maxActionText = 3500

// Actions returns one command per configured action.
func Actions(d Deps, caller ActionCaller, list []Action) []Command {
	out := make([]Command, 0, len(list))
	for _, a := range list {
		help := "/" + a.Name + " ARGS... asks another system to " + Escape(a.Description) + "; its answer is shown here."
		if a.Dangerous {
			help += " Only the users the admin allows may use it; every attempt is audited."
		}
		out = append(out, Command{
			Name:      a.Name,
			Summary:   a.Description,
			Help:      help,
			Dangerous: a.Dangerous,
			Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
				return d.runAction(ctx, req, a, caller)
			}),
		})
	}
	return out
}

func (a Action) timeout() time.Duration {
	if a.Timeout <= 0 {
		return DefaultActionTimeout
	}
	return a.Timeout
}

// runAction checks a dangerous action with the user who acts, right before the call (the
// gate only asked whether they may run it at all), calls it, and turns the answer or the
// failure into a reply. Dangerous attempts are audited whatever happens.
func (d Deps) runAction(ctx context.Context, req Request, a Action, caller ActionCaller) (Response, error) {
	call := ActionCall{Action: a.Name, Args: req.Args, UserID: req.UserID, UserName: req.UserName,
		ChatID: req.ChatID, ChatType: req.ChatType, ThreadID: req.ThreadID, MessageID: req.MessageID, At: d.now()}
	if req.Button != nil {
		_, call.Data, _ = strings.Cut(req.Button.Data, ":")
		call.Args = nil
	}
	if call.Args == nil {
		call.Args = []string{}
	}
	args := requestArgs(req)
	if a.Dangerous {
		// An action is about no builder: decided like /worker and /scheduler (decideControl,
		// on notABuilder), so a right limited to some builders ("dangerous on docs-*") grants
		// no action; only a rule not limited to builders does.
		if why := d.decideControl(ctx, req, a.Name, args, ""); why != "" {
			if req.Button != nil {
				return Response{Notice: why}, nil
			}
			return Say(Escape(why)), nil
		}
	}
	cctx, cancel := context.WithTimeout(ctx, a.timeout())
	ans, err := caller.CallAction(cctx, call)
	cancel()
	if err != nil {
		msg := d.actionFailed(a, err)
		if a.Dangerous {
			d.audit(ctx, req, a.Name, args, "", "", auditFailed, msg)
		}
		if req.Button != nil {
			return Response{Notice: msg, Replies: []Reply{{Text: Escape(msg)}}}, nil
		}
		return Say(Escape(msg)), nil
	}
	if a.Dangerous {
		d.audit(ctx, req, a.Name, args, "", "", auditAllowed, "the service answered")
	}
	return Response{Replies: []Reply{{Text: actionText(a, ans), Keyboard: actionKeyboard(a, ans)}}}, nil
}

// actionFailed says in one plain line what went wrong, naming the action, and logs what the
// user is not shown. Nothing here may hold the secret: the caller's errors name the action
// and the status, never the signature or the URL's credentials.
func (d Deps) actionFailed(a Action, err error) string {
	var se *ActionStatusError
	switch {
	case errors.As(err, &se):
		d.Log.Warn().Str("action", a.Name).Int("status", se.Status).Msg("commands: action answered an error")
		return fmt.Sprintf("%s: the service answered %d", a.Name, se.Status)
	case timedOut(err):
		d.Log.Warn().Str("action", a.Name).Dur("timeout", a.timeout()).Msg("commands: action did not answer in time")
		return fmt.Sprintf("%s: no answer within %s", a.Name, durationText(a.timeout()))
	case errors.Is(err, ErrActionAnswer):
		d.Log.Warn().Err(err).Str("action", a.Name).Msg("commands: action answer cannot be read")
		return fmt.Sprintf("%s: the service's answer could not be read", a.Name)
	}
	d.Log.Warn().Err(err).Str("action", a.Name).Msg("commands: action unreachable")
	return fmt.Sprintf("%s: the service could not be reached", a.Name)
}

// durationText is a timeout as people read it: 10s, 1m0s; below a second as it is (tests).
func durationText(t time.Duration) string {
	if t < time.Second {
		return t.String()
	}
	return t.Round(time.Second).String()
}

// actionText is the answer's text, escaped (the system's text is never taken as HTML: a
// stray "<" would make Telegram refuse the whole reply) and cut to fit one message.
func actionText(a Action, ans ActionAnswer) string {
	text := strings.TrimSpace(ans.Text)
	if text == "" {
		return Escape(a.Name) + ": done."
	}
	if utf8.RuneCountInString(text) > maxActionText {
		text = string([]rune(text)[:maxActionText]) + "…"
	}
	return Escape(text)
}

// actionKeyboard turns the answer's buttons into herald's: links stay links; a data button
// carries "NAME:data", so its press comes back to this action, through the gate and, for a
// dangerous action, the matrix again with the presser.
func actionKeyboard(a Action, ans ActionAnswer) [][]Button {
	var kb [][]Button
	for _, row := range ans.Buttons {
		var r []Button
		for _, b := range row {
			if b.URL != "" {
				r = append(r, Button{Text: b.Text, URL: b.URL})
			} else {
				r = append(r, Button{Text: b.Text, Data: a.Name + ":" + b.Data})
			}
		}
		if len(r) > 0 {
			kb = append(kb, r)
		}
	}
	return kb
}
