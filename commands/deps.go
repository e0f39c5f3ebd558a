package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
)

// NotifyStore keeps /notify settings per chat and forum topic (thread 0 is the chat itself).
type NotifyStore interface {
	NotifySettings(ctx context.Context, chatID, threadID int64) (events, builders, branches []string, err error)
	SetNotifySettings(ctx context.Context, chatID, threadID int64, events, builders, branches []string) error
	// ChatStyle and SetChatStyle are per chat, not per topic: whether a build's start message
	// is edited into its result (cards) and whether successes make a sound.
	ChatStyle(ctx context.Context, chatID int64) (cards, loudSuccess bool, err error)
	SetChatStyle(ctx context.Context, chatID int64, cards, loudSuccess bool) error
}

// WatchStore records who waits for which build: watches of running builds and follow-ups of
// forced ones. The notifier reads and removes them.
type WatchStore interface {
	AddWatch(ctx context.Context, chatID, threadID int64, conn, buildID, builder string, userID int64) (added bool, err error)
	// AddFollowup returns the build when the CI reported it already: running (it is watched
	// then) or finished (nothing is recorded).
	AddFollowup(ctx context.Context, chatID, threadID int64, conn, requestID, builder string, userID int64) (reported *ci.Build, err error)
}

// ConversationStore keeps pending questions in Postgres, so a half-done /force goes on after
// a restart. The payload is this package's JSON (see convo).
type ConversationStore interface {
	StartConversation(ctx context.Context, chatID, threadID, userID int64, data []byte, expires time.Time) (int64, error)
	UpdateConversation(ctx context.Context, id int64, data []byte, expires time.Time) (found bool, err error)
	Conversation(ctx context.Context, chatID, threadID, userID int64, now time.Time) (id int64, data []byte, found bool, err error)
	EndConversation(ctx context.Context, id int64) (ended bool, err error)
	EndUserConversation(ctx context.Context, chatID, threadID, userID int64) (data []byte, found bool, err error)
}

// Auditor appends to the audit log of dangerous commands. outcome is "allowed", "denied" or
// "failed".
type Auditor interface {
	Audit(ctx context.Context, at time.Time, userID int64, userName string, chatID, threadID int64,
		command, args, conn, builder, outcome, detail string) error
}

// ButtonStore makes a button one-shot in a chat: the "Re-run failed jobs" button under a
// failure must not re-run twice, however often it is pressed, before a restart or after.
type ButtonStore interface {
	// ClaimButton returns true for the first claim of payload data in chatID, false after.
	ClaimButton(ctx context.Context, chatID int64, data string) (first bool, err error)
	// ReleaseButton undoes a claim whose action failed before anything happened.
	ReleaseButton(ctx context.Context, chatID int64, data string) error
}

// Storage is everything the commands keep; *store.Store implements it.
type Storage interface {
	NotifyStore
	WatchStore
	ConversationStore
	ButtonStore
	Auditor
}

// Deps is what the commands need from the rest of herald.
type Deps struct {
	CI    []ci.Provider // every CI connection; a ci.Forcer, ci.Stopper or ci.Rebuilder among them can force, stop or re-run
	Store Storage
	// Authz returns the matrix in force now; it is called at every decision, so a reload
	// (SIGHUP) takes effect on the next press.
	Authz func() *authz.Matrix
	// ChatAdmin tells whether a user administers a group, for the admin-only /notify rule.
	// nil: nobody counts as an admin.
	ChatAdmin func(ctx context.Context, chatID, userID int64) (bool, error)
	Clock     func() time.Time // nil: time.Now
	Version   string
	SourceURL string
	Log       zerolog.Logger
	// ConversationTTL is how long a pending question waits; 0 means one hour.
	ConversationTTL time.Duration
	// CITimeout bounds each call a handler makes to a CI; 0 means DefaultCITimeout. The
	// transport gives a handler a budget longer than this (see HandlerBudget), so a slow CI
	// ends in a reply that says so, never in silence.
	CITimeout time.Duration

	// admins remembers ChatAdmin's answers for a few minutes; Register sets it up, so every
	// command it registers shares one.
	admins *adminCache
}

// DefaultCITimeout is how long one CI call may take before the user is told the CI did not
// answer.
const DefaultCITimeout = 15 * time.Second

// HandlerBudget is how long the transport lets one handler run: longer than the few CI calls
// a command makes one after another on one connection, each bounded by CITimeout (several
// connections are asked at once).
const HandlerBudget = 4 * DefaultCITimeout

func (d Deps) ciTimeout() time.Duration {
	if d.CITimeout <= 0 {
		return DefaultCITimeout
	}
	return d.CITimeout
}

// ciContext bounds one CI call. Use it around every call to a provider; ciError and
// unreachable turn its deadline into "the CI did not answer in 15 s".
func (d Deps) ciContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.ciTimeout())
}

// slowCI is what the user is told when a CI call ran past CITimeout.
func (d Deps) slowCI(conn string) string {
	return fmt.Sprintf("%s: the CI did not answer in %s.", conn, d.ciTimeoutText())
}

// noAnswer is the answer to the last press of a /force or /stop whose CI call ran out of
// time: the keyboard gives way to what happened, and maybe says what may have happened
// anyway.
func (d Deps) noAnswer(conn, maybe string) Response {
	return Response{Notice: "The CI did not answer.", Replies: []Reply{{Edit: true, Text: Escape(d.slowCI(conn)) + " " + maybe}}}
}

// ciTimeoutText is CITimeout as people read it: "15s" (tests use shorter ones, shown as
// they are, not rounded to "0s").
func (d Deps) ciTimeoutText() string {
	t := d.ciTimeout()
	if t < time.Second {
		return t.String()
	}
	return t.Round(time.Second).String()
}

// timedOut reports whether a CI call failed because it ran out of time: its own deadline
// (ciContext), the handler's, or a client timeout of the provider's transport.
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

func (d Deps) now() time.Time {
	if d.Clock == nil {
		return time.Now()
	}
	return d.Clock()
}

func (d Deps) ttl() time.Duration {
	if d.ConversationTTL <= 0 {
		return time.Hour
	}
	return d.ConversationTTL
}

func (d Deps) matrix() *authz.Matrix {
	if d.Authz == nil {
		return authz.Default(nil)
	}
	if m := d.Authz(); m != nil {
		return m
	}
	return authz.Default(nil)
}

// Register adds the build server commands to reg and makes reg answer plain text (answers to
// a pending question). /start, /help, /commands and /getid are added by the caller.
func Register(reg *Registry, d Deps) {
	if d.ChatAdmin != nil && d.admins == nil {
		d.admins = newAdminCache(d.ChatAdmin, d.now)
	}
	reg.Add(
		Status(d), List(d), Last(d), Watch(d), Force(d), Stop(d), Notify(d), Nay(d),
		Version(d), Source(d),
	)
	reg.Text = TextAnswers(d)
}

// label is how a builder is shown and typed: "conn/builder" when there is more than one CI
// connection, so two builders of the same name stay apart.
func (d Deps) label(conn, builder string) string {
	if len(d.CI) > 1 {
		return conn + "/" + builder
	}
	return builder
}

func (d Deps) provider(conn string) (ci.Provider, bool) {
	for _, p := range d.CI {
		if p.Name() == conn {
			return p, true
		}
	}
	return nil, false
}

func (d Deps) forcer(conn string) (ci.Forcer, bool) {
	p, ok := d.provider(conn)
	if !ok {
		return nil, false
	}
	f, ok := p.(ci.Forcer)
	return f, ok
}

// splitTyped splits what a user typed into a connection (empty: any) and a builder name.
// "conn/name" names a connection only when conn is one; builder names may hold slashes too.
func (d Deps) splitTyped(typed string) (conn, name string) {
	if c, n, ok := strings.Cut(typed, "/"); ok {
		if _, known := d.provider(c); known {
			return c, n
		}
	}
	return "", typed
}

// matches reports whether builder b on conn is what the user typed.
func (d Deps) matches(typed, conn, name string) bool {
	c, n := d.splitTyped(typed)
	return n == name && (c == "" || c == conn)
}

// ciError turns a failed call to CI connection conn into something to show: the provider's
// own chat-safe message when it has one, "the CI did not answer in 15s" when it ran out of
// time; otherwise the error is returned for the transport to log.
func (d Deps) ciError(conn string, err error, doing string) error {
	var ue *ci.UserError
	switch {
	case errors.As(err, &ue):
		return ci.Userf(err, ue.Msg)
	case timedOut(err):
		d.Log.Warn().Err(err).Str("conn", conn).Msg("commands: " + doing)
		return ci.Userf(err, d.slowCI(conn))
	case errors.Is(err, ci.ErrUnsupported):
		return ci.Userf(err, "This CI cannot do that.")
	}
	return fmt.Errorf("commands: %s: %w", doing, err)
}

// pressFailed answers a button press whose CI call failed: a slow CI is said in the press's
// notice and the keyboard stays, so pressing again retries; other failures are ciError's.
func (d Deps) pressFailed(conn string, err error, doing string) (Response, error) {
	var ue *ci.UserError
	if timedOut(err) && !errors.As(err, &ue) {
		d.Log.Warn().Err(err).Str("conn", conn).Msg("commands: " + doing)
		return Response{Notice: d.slowCI(conn)}, nil
	}
	return Response{}, d.ciError(conn, err, doing)
}

// unreachable is the line shown for a CI connection that failed while others answered.
func (d Deps) unreachable(conn string, err error, doing string) string {
	d.Log.Warn().Err(err).Str("conn", conn).Msg("commands: " + doing)
	var ue *ci.UserError
	switch {
	case errors.As(err, &ue):
		return fmt.Sprintf("⚠️ %s: %s", Escape(conn), Escape(ue.Msg))
	case timedOut(err):
		return "⚠️ " + Escape(d.slowCI(conn))
	}
	return fmt.Sprintf("⚠️ %s: the CI did not answer.", Escape(conn))
}

func displayName(req Request) string {
	switch {
	case req.UserName != "":
		return "@" + req.UserName
	case req.FirstName != "":
		return req.FirstName
	default:
		return fmt.Sprintf("user %d", req.UserID)
	}
}

// edit is a reply that redraws the message a pressed button is on, or a new message for a
// typed command.
func edit(req Request, text string, kb [][]Button) Reply {
	return Reply{Text: text, Keyboard: kb, Edit: req.Button != nil}
}

// selected says whether /status or /last shows builder b of connection conn: which is ""
// (online builders), "all", or a builder as typed.
func (d Deps) selected(which, conn string, b ci.Builder) bool {
	switch which {
	case "all":
		return true
	case "":
		return b.Online
	default:
		return d.matches(which, conn, b.Name)
	}
}

// noneSelected is what /status or /last says when no builder was selected: never silence.
func noneSelected(command, which string) string {
	switch which {
	case "":
		return fmt.Sprintf("No builder is online. /%s all shows every builder.", command)
	case "all":
		return "There are no builders."
	default:
		return fmt.Sprintf("There is no builder %s. /list builders shows them.", Escape(which))
	}
}
