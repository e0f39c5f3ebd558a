// Package commands holds one file per chat command. A handler takes a Request (who asked,
// where, with which arguments, or which button they pressed) and returns Replies; it never
// talks to Telegram. The transport (package bot) parses updates into Requests and renders
// Replies.
package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-ci/herald/ci"
)

// Request is one command or one button press.
type Request struct {
	UpdateID  int64
	ChatID    int64
	ChatType  string // private | group | supergroup | channel
	ChatTitle string
	ThreadID  int64 // forum topic, 0 when none
	IsForum   bool
	UserID    int64
	UserName  string // @username without @, may be empty
	FirstName string
	Command   string   // lower case, without slash and @botname; empty for plain text and buttons
	Args      []string // shell-like split, quotes removed
	Text      string   // the whole message text (for answers to a pending question)
	MessageID int      // the message the user sent, or the message the pressed button is on

	// Actor says whether UserID is a person's own account. Telegram puts a placeholder user
	// in From when a group admin writes anonymously (1087968824, the same in every group) or
	// someone posts as a channel (136817688), and 777000 on channel posts forwarded into a
	// linked discussion group. Such ids name nobody: dangerous commands and /notify changes
	// are refused for them. SenderChatID and SenderChatTitle are the chat shown as the
	// sender (the group itself, or the channel), when Telegram gives one.
	Actor           Actor
	SenderChatID    int64
	SenderChatTitle string

	// Button is set when the user pressed an inline button: the payload herald stored
	// server-side for it (see Button.Data).
	Button *Pressed
}

// Pressed describes a pressed inline button.
type Pressed struct {
	QueryID string // Telegram's callback query id, answered by the transport
	Data    string // the button's Data as the handler created it
}

// Actor is who stands behind a request's UserID.
type Actor string

const (
	ActorUser           Actor = ""                // a person's own account
	ActorAnonymousAdmin Actor = "anonymous_admin" // a group admin writing as the group
	ActorChannel        Actor = "channel"         // someone posting as a channel
	ActorAutoForward    Actor = "auto_forward"    // a channel post forwarded into its discussion group
)

// Person reports whether the request comes from a person's own account, so UserID names
// somebody authz can grant things to.
func (r Request) Person() bool { return r.Actor == ActorUser }

// Private reports whether the request comes from a one-to-one chat with the bot.
func (r Request) Private() bool { return r.ChatType == "private" }

// Reply is one thing herald says back. Text is Telegram HTML: handlers escape every dynamic
// piece with Escape, the one escaper.
type Reply struct {
	Text     string
	Keyboard [][]Button // inline keyboard under the message; nil for none
	// Edit replaces the message the pressed button is on (Request.MessageID) instead of
	// sending a new one.
	Edit bool
	// MessageID, with Edit, names the message to replace when it is not the one the request
	// is about: /nay removes the keyboard of a conversation started earlier. 0 means
	// Request.MessageID.
	MessageID int
	// Silent sends without a notification sound.
	Silent bool
	// ChatID, when set, sends the reply to that chat (and its forum topic ThreadID) instead
	// of the request's: registration tells the admins of a request, and the requester of
	// the decision, in the same commit as the press. Edit does not apply to such a reply.
	ChatID, ThreadID int64
}

// Button is an inline keyboard button. Data is any string: the transport keeps it server-side
// and gives Telegram a short key, so it may be longer than Telegram's 64-byte limit.
type Button struct {
	Text string
	Data string
	URL  string // a link button instead of a callback, when set
}

// Response is what a handler returns: the replies, in order, and for a button press the short
// notice Telegram shows on the presser's screen.
type Response struct {
	Replies []Reply
	Notice  string // answerCallbackQuery text; may be empty
}

// Handler handles one command.
type Handler interface {
	Handle(ctx context.Context, req Request) (Response, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) (Response, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req Request) (Response, error) { return f(ctx, req) }

// Userf makes herald's one user-facing error, ci.UserError, with a plain-text message:
// format and args are not escaped here, the transport escapes the whole message once when it
// shows it.
func Userf(format string, args ...any) error {
	return &ci.UserError{Msg: fmt.Sprintf(format, args...)}
}

// AsUser returns the message of the user-facing error (ci.UserError) in err's chain: plain
// text, which whoever shows it must escape (Escape) exactly once.
func AsUser(err error) (string, bool) {
	var ue *ci.UserError
	if errors.As(err, &ue) {
		return ue.Msg, true
	}
	return "", false
}

// Say is a Response with one plain reply.
func Say(text string) Response { return Response{Replies: []Reply{{Text: text}}} }
