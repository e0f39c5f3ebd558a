package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/herald-ci/herald/authz"
)

// Invite defaults and bounds.
const (
	DefaultInviteUses = 1
	DefaultInviteTTL  = 7 * 24 * time.Hour
	maxInviteUses     = 1000
	maxInviteTTL      = 365 * 24 * time.Hour
	// inviteCodeBytes is 128 bits of crypto/rand: 22 base64url characters, within the 64
	// of A-Z a-z 0-9 _ - that Telegram's start parameter allows.
	inviteCodeBytes = 16
)

const inviteHelp = "/invite [USES] [TTL] makes an invite link: a chat that opens it is registered without asking. " +
	"USES is how many chats it lets in (default 1), TTL how long it works (default 7d; e.g. 12h, 30d). " +
	"Send it from a private chat: whoever has the link gets in. The link is shown once; herald keeps only a hash of it."

func (r Registration) inviteCommand() Command {
	return Command{
		Name:      authz.Invite,
		Summary:   "make an invite link that registers a chat",
		Help:      inviteHelp,
		Dangerous: true,
		Handler:   HandlerFunc(r.invite),
	}
}

// ParseInvite reads /invite's arguments: a count of uses and a duration, in either order,
// each at most once. Errors are chat-safe.
func ParseInvite(args []string) (uses int, ttl time.Duration, err error) {
	uses, ttl = DefaultInviteUses, DefaultInviteTTL
	var sawUses, sawTTL bool
	for _, a := range args {
		if n, err := strconv.Atoi(a); err == nil {
			if sawUses {
				return 0, 0, Userf("Give the number of uses once: /invite [USES] [TTL].")
			}
			if n < 1 || n > maxInviteUses {
				return 0, 0, Userf("An invite lets in 1 to %d chats, not %d.", maxInviteUses, n)
			}
			uses, sawUses = n, true
			continue
		}
		d, ok := parseTTL(a)
		if !ok {
			return 0, 0, Userf("I do not understand %q: use /invite [USES] [TTL], e.g. /invite 5 30d.", a)
		}
		if sawTTL {
			return 0, 0, Userf("Give the time an invite works once: /invite [USES] [TTL].")
		}
		if d <= 0 || d > maxInviteTTL {
			return 0, 0, Userf("An invite works for up to 365 days, not %s.", a)
		}
		ttl, sawTTL = d, true
	}
	return uses, ttl, nil
}

// parseTTL reads a Go duration, or a whole number of days ("7d").
func parseTTL(s string) (time.Duration, bool) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100000 { // beyond that a Duration overflows
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// newInviteCode is a fresh code and its SHA-256, the only form herald stores.
func newInviteCode() (code string, hash []byte, err error) {
	raw := make([]byte, inviteCodeBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("commands: invite code: %w", err)
	}
	code = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(code))
	return code, sum[:], nil
}

// invite answers /invite (the gate has checked the invite right). The code goes into the
// reply and nowhere else: not the log, not the audit log, not the database.
func (r Registration) invite(ctx context.Context, req Request) (Response, error) {
	m := r.matrix()
	args := requestArgs(req)
	if m.Registration() == authz.RegistrationOpen {
		r.audit(ctx, req, authz.Invite, args, "", "", auditFailed, "registration is open: no invite made")
		return Say("Registration is open: every chat may use herald, no invite is needed."), nil
	}
	uses, ttl, err := ParseInvite(req.Args)
	if err != nil {
		return Response{}, err
	}
	name, err := r.BotUsername(ctx)
	if err != nil {
		return Response{}, fmt.Errorf("commands: invite: bot username: %w", err)
	}
	code, hash, err := newInviteCode()
	if err != nil {
		return Response{}, err
	}
	now := r.now()
	inv := InviteInfo{Uses: uses, ExpiresAt: now.Add(ttl), CreatedBy: req.UserID, CreatedByName: displayName(req),
		ChatID: req.ChatID, CreatedAt: now}
	id, err := r.Registrations.CreateInvite(ctx, hash, inv)
	if err != nil {
		r.audit(ctx, req, authz.Invite, args, "", "", auditFailed, "the invite could not be stored")
		return Response{}, fmt.Errorf("commands: invite: %w", err)
	}
	r.audit(ctx, req, authz.Invite, args, "", "", auditAllowed,
		fmt.Sprintf("invite #%d: %s, until %s", id, chatsText(uses), when(inv.ExpiresAt)))
	link := "https://t.me/" + name + "?start=" + code
	group := "https://t.me/" + name + "?startgroup=" + code
	text := fmt.Sprintf("🎟 <b>Invite #%d</b>: lets %s in, until %s.\n%s\n\nTo let a group in, open this one and pick the group:\n%s\n\n"+
		"Whoever has the link gets in: pass it on privately. I show it only this once.",
		id, chatsText(uses), when(inv.ExpiresAt), Escape(link), Escape(group))
	return Say(text), nil
}

func chatsText(n int) string {
	if n == 1 {
		return "1 chat"
	}
	return fmt.Sprintf("%d chats", n)
}

// redeem is /start CODE, what opening an invite link sends. Every outcome but a chat that is
// in already is audited, never with the code.
func (r Registration) redeem(ctx context.Context, req Request, code string, greet Handler) (Response, error) {
	sum := sha256.Sum256([]byte(code))
	inv, registered, err := r.Registrations.RedeemInvite(ctx, sum[:], req.ChatID, req.ThreadID, kindNames(defaultOn), r.now())
	args := fmt.Sprintf("invite #%d", inv.ID)
	switch {
	case errors.Is(err, ErrInviteUnknown):
		r.audit(ctx, req, "start", "invite (unknown code)", "", "", auditDenied, "no invite has this code")
		return Say("This invite link is not valid. Ask an admin for a new one."), nil
	case errors.Is(err, ErrInviteExpired):
		r.audit(ctx, req, "start", args, "", "", auditDenied, "invite expired at "+when(inv.ExpiresAt))
		return Say(fmt.Sprintf("This invite link expired on %s. Ask an admin for a new one.", when(inv.ExpiresAt))), nil
	case errors.Is(err, ErrInviteSpent):
		r.audit(ctx, req, "start", args, "", "", auditDenied, fmt.Sprintf("invite used up (%s)", chatsText(inv.Uses)))
		return Say("This invite link has been used up. Ask an admin for a new one."), nil
	case err != nil:
		return Response{}, fmt.Errorf("commands: redeem invite: %w", err)
	}
	resp, err := greet.Handle(ctx, req)
	if err != nil {
		return Response{}, err
	}
	if !registered {
		return resp, nil // in already: the invite keeps its uses
	}
	r.audit(ctx, req, "start", args, "", "", auditAllowed,
		fmt.Sprintf("registered chat %d by the invite of %s; %d use(s) left", req.ChatID, inv.CreatedByName, inv.UsesLeft))
	welcome := fmt.Sprintf("✅ The invite of %s let this chat in. I will tell you here about %s (/notify changes that).",
		Escape(inv.CreatedByName), Escape(strings.Join(kindNames(defaultOn), ", ")))
	resp.Replies = append([]Reply{{Text: welcome}}, resp.Replies...)
	return resp, nil
}
