package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
)

// Registration decides which chats may use herald at all (authz.registration). With open
// (the default) every chat may, as before registration existed. With approval a chat that
// is not registered asks with /start (or /notify on) and the admins decide with buttons;
// with invite only an invite link (/invite, invite.go) lets a chat in. Both work in approval
// mode. Until a chat is in, it may use only what authz grants unregistered chats.
//
// Registration belongs to the chat, not to a person: a group let in is in for all its
// members, the way its subscription is the group's.
type Registration struct {
	Deps
	Registrations RegistrationStore
	// BotUsername is the bot's username (without @) for invite links.
	BotUsername func(ctx context.Context) (string, error)
}

// RegistrationStore keeps registered chats, requests and invites (store/registrations.go).
// Invite codes reach it only hashed.
type RegistrationStore interface {
	ChatRegistered(ctx context.Context, chatID int64) (bool, error)
	// RegisterOpen records a chat that used herald while registration was open, so it stays
	// in when the admin closes registration later.
	RegisterOpen(ctx context.Context, chatID int64) error
	// RequestRegistration files a request, or returns the chat's pending one (created false).
	RequestRegistration(ctx context.Context, r RegistrationRequest) (req RegistrationRequest, created bool, err error)
	// DecideRegistration decides a pending request once; decided is false when it was
	// decided before (req says how and by whom). Approval registers the chat and gives it
	// the request's subscription. ErrNoRequest when there is no such request.
	DecideRegistration(ctx context.Context, id int64, approve bool, byUser int64, byName string, at time.Time) (req RegistrationRequest, decided bool, err error)
	PendingRegistrations(ctx context.Context, limit int) ([]RegistrationRequest, error)
	CreateInvite(ctx context.Context, codeHash []byte, inv InviteInfo) (id int64, err error)
	// RedeemInvite lets a chat in with an invite, taking one use and subscribing it to
	// events; registered is false (and no use is taken) for a chat that is in already.
	// Refusals: ErrInviteUnknown, ErrInviteExpired, ErrInviteSpent (with the invite).
	RedeemInvite(ctx context.Context, codeHash []byte, chatID, threadID int64, events []string, at time.Time) (inv InviteInfo, registered bool, err error)
}

// Errors of a RegistrationStore.
var (
	ErrNoRequest     = errors.New("commands: no such registration request")
	ErrInviteUnknown = errors.New("commands: no such invite")
	ErrInviteExpired = errors.New("commands: invite expired")
	ErrInviteSpent   = errors.New("commands: invite used up")
)

// RegistrationRequest is a chat's request to be let in (the fields of
// store.RegistrationRequest, so the wiring converts one into the other).
type RegistrationRequest struct {
	ID        int64
	ChatID    int64
	ThreadID  int64
	ChatType  string
	ChatTitle string
	UserID    int64
	UserName  string
	FirstName string
	// Events, Builders and Branches are the subscription approval gives the chat.
	Events, Builders, Branches []string
	RequestedAt                time.Time

	Status        string // "pending", "approved" or "denied"
	DecidedBy     int64
	DecidedByName string
	DecidedAt     time.Time
}

// InviteInfo is an invite as stored (never its code; the fields of store.Invite).
type InviteInfo struct {
	ID            int64
	Uses          int
	UsesLeft      int
	ExpiresAt     time.Time
	CreatedBy     int64
	CreatedByName string
	ChatID        int64
	CreatedAt     time.Time
}

// AddRegistration puts registration into reg: /start that asks or redeems an invite, the
// Approve/Deny buttons and /approve, /invite, and the check that turns away chats that are
// not registered. reg must hold /start already (Start); its greeting is kept.
func AddRegistration(reg *Registry, r Registration) {
	greet, _ := reg.Lookup("start")
	if greet.Handler == nil {
		greet = Start(reg)
	}
	reg.Add(Command{
		Name:    greet.Name,
		Summary: greet.Summary,
		Help:    greet.Help + " When this bot lets in only registered chats, /start asks the admins for access; an invite link opens /start with its code.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) { return r.start(ctx, req, greet.Handler) }),
	}, r.approveCommand(), r.inviteCommand())
	reg.Admit = r.admit
}

// admit turns away commands from chats that are not registered, except what authz grants
// them (and /start, which decides for itself). In open mode it only records the chat.
func (r Registration) admit(ctx context.Context, req Request, command string) (Response, bool, error) {
	m := r.matrix()
	if m.Registration() == authz.RegistrationOpen {
		if req.ChatID != 0 {
			if err := r.Registrations.RegisterOpen(ctx, req.ChatID); err != nil {
				// Only the record for a later switch is lost; the command goes on as before.
				r.Log.Error().Err(err).Int64("chat_id", req.ChatID).Msg("commands: registration: record an open chat")
			}
		}
		return Response{}, false, nil
	}
	if command == "start" {
		return Response{}, false, nil
	}
	in, err := r.admitted(ctx, req, m)
	if err != nil || in {
		return Response{}, false, err
	}
	if command == "notify" && req.Button == nil && m.Registration() == authz.RegistrationApproval &&
		len(req.Args) > 0 && strings.EqualFold(req.Args[0], "on") {
		nc, err := ParseNotify(req.Args)
		if err != nil {
			return Response{}, true, err
		}
		// What /notify on would turn on once the chat is in: the kinds named (problem and
		// recovery when nothing is), and the hooks named, as the subscription stores them.
		why, err := r.mayHearHooks(ctx, req, nc.Hooks)
		if err != nil {
			return Response{}, true, err
		}
		if why != "" {
			return Say(Escape(why)), true, nil
		}
		events := kindNames(nc.Events)
		if len(events) == 0 && len(nc.Hooks) == 0 {
			events = kindNames(defaultOn)
		}
		for _, h := range nc.Hooks {
			events = append(events, hookPrefix+h)
		}
		resp, err := r.ask(ctx, req, events, nc.Builders, nc.Branches)
		return resp, true, err
	}
	if m.UnregisteredMay(command) {
		return Response{}, false, nil
	}
	why := notRegistered(m)
	if m.Dangerous(command) {
		r.audit(ctx, req, command, requestArgs(req), "", "", auditDenied, "the chat is not registered")
	}
	if req.Button != nil {
		return Response{Notice: why}, true, nil
	}
	return Say(Escape(why)), true, nil
}

// admitted reports whether the request's chat may use herald: it is registered, it is the
// admin chat, or it is the private chat of someone who lets chats in (they are never shut
// out, or nobody could ever register anything).
func (r Registration) admitted(ctx context.Context, req Request, m *authz.Matrix) (bool, error) {
	if req.ChatID != 0 && req.ChatID == m.AdminChat() {
		return true, nil
	}
	if req.Private() && req.Person() && m.LetsIn(req.UserID, req.ChatID) {
		return true, nil
	}
	ok, err := r.Registrations.ChatRegistered(ctx, req.ChatID)
	if err != nil {
		return false, fmt.Errorf("commands: registration: %w", err)
	}
	return ok, nil
}

// notRegistered is the one line a chat that is not let in yet hears (plain text).
func notRegistered(m *authz.Matrix) string {
	if m.Registration() == authz.RegistrationInvite {
		return "This chat is not registered yet: open an invite link from an admin to get access."
	}
	return "This chat is not registered yet: send /start to ask for access."
}

// start is /start: with an invite code it redeems the invite; in a chat that is not
// registered it asks the admins (approval) or says an invite is needed; otherwise it greets.
func (r Registration) start(ctx context.Context, req Request, greet Handler) (Response, error) {
	m := r.matrix()
	if m.Registration() == authz.RegistrationOpen || req.Button != nil {
		return greet.Handle(ctx, req)
	}
	in, err := r.admitted(ctx, req, m)
	if err != nil {
		return Response{}, err
	}
	if in {
		return greet.Handle(ctx, req) // an invite opened here keeps its uses
	}
	if len(req.Args) > 0 {
		return r.redeem(ctx, req, req.Args[0], greet)
	}
	if m.Registration() == authz.RegistrationInvite {
		return Say("This bot lets chats in by invitation only: ask its admin for an invite link."), nil
	}
	return r.ask(ctx, req, kindNames(defaultOn), nil, nil)
}

// ask files the chat's request and sends it to the admins with Approve and Deny buttons: to
// the admin chat, or to the private chat of each user allowed approve. Asking again while a
// request waits sends nothing new.
func (r Registration) ask(ctx context.Context, req Request, events, builders, branches []string) (Response, error) {
	if !req.Person() {
		return Say(Escape(notPerson(req, "who asks for access"))), nil
	}
	m := r.matrix()
	rr, created, err := r.Registrations.RequestRegistration(ctx, RegistrationRequest{
		ChatID: req.ChatID, ThreadID: req.ThreadID, ChatType: req.ChatType, ChatTitle: req.ChatTitle,
		UserID: req.UserID, UserName: req.UserName, FirstName: req.FirstName,
		Events: events, Builders: builders, Branches: branches, RequestedAt: r.now(),
	})
	if err != nil {
		return Response{}, fmt.Errorf("commands: registration: %w", err)
	}
	if !created {
		return Say(fmt.Sprintf("Your request for access is waiting for the admins (sent %s). I will tell you here when they decide.",
			when(rr.RequestedAt))), nil
	}
	resp := Say("📨 This chat is not registered yet: I sent your request for access to the admins. I will tell you here when they decide.")
	kb := decisionButtons(authz.Approve, rr.ID)
	targets := m.Approvers()
	if m.AdminChat() != 0 {
		targets = []int64{m.AdminChat()}
	}
	for _, chat := range targets {
		resp.Replies = append(resp.Replies, Reply{ChatID: chat, Text: requestText(rr), Keyboard: kb})
	}
	return resp, nil
}

// requestText is a request as the admins see it: who, which chat, when, what it will hear.
func requestText(rr RegistrationRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "🔔 <b>Request for access #%d</b>\n", rr.ID)
	fmt.Fprintf(&b, "Who: %s\n", personText(rr.FirstName, rr.UserName, rr.UserID))
	if rr.ChatType == "private" || rr.ChatID == rr.UserID {
		fmt.Fprintf(&b, "Chat: their private chat with me\n")
	} else {
		title := rr.ChatTitle
		if title == "" {
			title = "(no title)"
		}
		fmt.Fprintf(&b, "Chat: “%s” (%s, ID <code>%d</code>", Escape(title), Escape(rr.ChatType), rr.ChatID)
		if rr.ThreadID != 0 {
			fmt.Fprintf(&b, ", topic <code>%d</code>", rr.ThreadID)
		}
		b.WriteString(")\n")
	}
	fmt.Fprintf(&b, "When: %s\n", when(rr.RequestedAt))
	if len(rr.Events) > 0 {
		fmt.Fprintf(&b, "Approval subscribes it to: %s", Escape(strings.Join(rr.Events, ", ")))
		if len(rr.Builders) > 0 {
			fmt.Fprintf(&b, " builder=%s", Escape(strings.Join(rr.Builders, ",")))
		}
		if len(rr.Branches) > 0 {
			fmt.Fprintf(&b, " branch=%s", Escape(strings.Join(rr.Branches, ",")))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// decidedText is the line under a decided request.
func decidedText(rr RegistrationRequest) string {
	verb := "✅ Approved"
	if rr.Status == "denied" {
		verb = "🚫 Denied"
	}
	return fmt.Sprintf("%s by %s, %s.", verb, Escape(rr.DecidedByName), when(rr.DecidedAt))
}

func personText(first, username string, id int64) string {
	var parts []string
	if first != "" {
		parts = append(parts, Escape(first))
	}
	if username != "" {
		parts = append(parts, "@"+Escape(username))
	}
	parts = append(parts, fmt.Sprintf("ID <code>%d</code>", id))
	if len(parts) == 1 {
		return parts[0]
	}
	return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func kindNames(ks []ci.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// approveCommand is the Approve/Deny buttons and /approve, which lists the requests waiting
// (each with its buttons again, for an admin who missed them).
func (r Registration) approveCommand() Command {
	return Command{
		Name:      authz.Approve,
		Summary:   "list requests for access",
		Help:      "/approve lists the chats waiting for access, each with Approve and Deny buttons. Whoever is in the admin chat may decide, and anyone the authz rules allow approve.",
		Dangerous: true,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				return r.decide(ctx, req)
			}
			return r.pending(ctx)
		}),
	}
}

// pendingLimit bounds what /approve lists at once.
const pendingLimit = 20

func (r Registration) pending(ctx context.Context) (Response, error) {
	list, err := r.Registrations.PendingRegistrations(ctx, pendingLimit+1)
	if err != nil {
		return Response{}, fmt.Errorf("commands: registration: %w", err)
	}
	if len(list) == 0 {
		return Say("No chat is waiting for access."), nil
	}
	var resp Response
	for i, rr := range list {
		if i == pendingLimit {
			resp.Replies = append(resp.Replies, Reply{Text: "More are waiting: decide on these first."})
			break
		}
		resp.Replies = append(resp.Replies, Reply{Text: requestText(rr), Keyboard: decisionButtons(authz.Approve, rr.ID)})
	}
	return resp, nil
}

// decide is a press of Approve or Deny. The presser is checked at the moment of pressing; a
// request is decided once, whichever admin (in whichever chat) presses first, and a later
// press says who decided.
func (r Registration) decide(ctx context.Context, req Request) (Response, error) {
	id, approve, verb, ok := parseDecision(req.Button.Data)
	if !ok {
		return badButton(), nil
	}
	args := fmt.Sprintf("%s request #%d", verb, id)
	m := r.matrix()
	if !req.Person() {
		r.audit(ctx, req, authz.Approve, args, "", "", auditDenied, notPersonDetail(req))
		return Response{Notice: notPerson(req, "who may approve")}, nil
	}
	if !m.MayApprove(req.UserID, req.ChatID) {
		r.audit(ctx, req, authz.Approve, args, "", "", auditDenied, "you may not use /approve")
		return Response{Notice: "You may not decide on requests for access."}, nil
	}
	rr, decided, err := r.Registrations.DecideRegistration(ctx, id, approve, req.UserID, displayName(req), r.now())
	if errors.Is(err, ErrNoRequest) {
		return Response{Notice: "That request no longer exists."}, nil
	}
	if err != nil {
		return Response{}, fmt.Errorf("commands: registration: %w", err)
	}
	shown := Reply{Edit: true, Text: requestText(rr) + "\n\n" + decidedText(rr)}
	if !decided {
		verb := "approved"
		if rr.Status == "denied" {
			verb = "denied"
		}
		return Response{Notice: fmt.Sprintf("Already %s by %s.", verb, rr.DecidedByName), Replies: []Reply{shown}}, nil
	}
	chat := fmt.Sprintf("chat %d", rr.ChatID)
	if rr.ChatTitle != "" {
		chat += " (" + rr.ChatTitle + ")"
	}
	told := Reply{ChatID: rr.ChatID, ThreadID: rr.ThreadID}
	if approve {
		r.audit(ctx, req, authz.Approve, args, "", "", auditAllowed, "approved: registered "+chat)
		told.Text = "✅ An admin approved your request: this chat may use herald now."
		if len(rr.Events) > 0 {
			told.Text += fmt.Sprintf(" I will tell you here about %s (/notify changes that).", Escape(strings.Join(rr.Events, ", ")))
		}
		told.Text += " Send /help for the commands."
		return Response{Notice: "Approved.", Replies: []Reply{shown, told}}, nil
	}
	r.audit(ctx, req, authz.Approve, args, "", "", auditAllowed, "denied: "+chat+" stays unregistered")
	told.Text = "🚫 An admin declined your request for access to herald in this chat."
	return Response{Notice: "Denied.", Replies: []Reply{shown, told}}, nil
}
