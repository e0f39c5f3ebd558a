package commands

import (
	"context"
	"strings"
	"time"

	"github.com/herald-ci/herald/authz"
)

// authzGate is the Gate backed by the admin's matrix. It decides on the user who acts (the
// sender, or whoever pressed the button) each time, with the matrix in force at that moment.
type authzGate struct{ d Deps }

// NewGate returns the Gate for NewRegistry. For a dangerous command it only asks whether the
// user may run it on some builder; the handlers decide again with the builder right before
// calling the CI. A dangerous command from a sender Telegram does not name (Request.Person
// false) is refused with an explanation. Every dangerous attempt the gate turns away is
// audited.
func NewGate(d Deps) Gate { return authzGate{d: d} }

func (g authzGate) Allow(ctx context.Context, req Request, command string) string {
	m := g.d.matrix()
	if !req.Person() && m.Dangerous(command) {
		g.d.audit(ctx, req, command, requestArgs(req), "", "", auditDenied, notPersonDetail(req))
		return notPerson(req, "who may /"+command)
	}
	if command == authz.Approve && m.MayApprove(req.UserID, req.ChatID) {
		return "" // whoever is in the admin chat may, besides the rules (see authz.MayApprove)
	}
	dec := m.Decide(req.UserID, command, "")
	if dec.Allowed {
		return ""
	}
	why := capitalize(dec.Reason) + "."
	if m.Dangerous(command) {
		g.d.audit(ctx, req, command, requestArgs(req), "", "", auditDenied, dec.Reason)
	}
	return why
}

// Audit outcomes, as the audit_log table spells them.
const (
	auditAllowed = "allowed"
	auditDenied  = "denied"
	auditFailed  = "failed"
)

// auditTimeout bounds writing one audit row.
const auditTimeout = 5 * time.Second

// audit records one attempt at a dangerous command. A failure to write is logged, not shown:
// the user's action already happened (or was refused) and must not be reported otherwise.
// The row is written on a fresh short context of its own: a CI call that used up the
// handler's time (or a shutdown) must not leave a /force that reached the CI unaudited.
func (d Deps) audit(ctx context.Context, req Request, command, args, conn, builder, outcome, detail string) {
	if d.Store == nil {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	err := d.Store.Audit(actx, d.now(), req.UserID, displayName(req), req.ChatID, req.ThreadID,
		command, args, conn, builder, outcome, detail)
	if err != nil {
		d.Log.Error().Err(err).Int64("user_id", req.UserID).Int64("chat_id", req.ChatID).
			Str("command", command).Str("outcome", outcome).Msg("commands: audit")
	}
}

// decide asks the matrix about a dangerous command on a known builder, right before acting,
// and audits a refusal. It returns "" when allowed, or the reason (plain text). A request
// that names nobody (an anonymous admin, a channel) is refused whatever the matrix says.
func (d Deps) decide(ctx context.Context, req Request, command, args, conn, builder string) string {
	if !req.Person() {
		d.audit(ctx, req, command, args, conn, builder, auditDenied, notPersonDetail(req))
		return notPerson(req, "who may /"+command)
	}
	dec := d.matrix().Decide(req.UserID, command, builder)
	if dec.Allowed {
		return ""
	}
	d.audit(ctx, req, command, args, conn, builder, auditDenied, dec.Reason)
	return capitalize(dec.Reason) + "."
}

func capitalize(s string) string {
	if s == "" {
		return "Not allowed"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// requestArgs is what the user sent, for the audit log: the typed arguments, or the pressed
// button's payload.
func requestArgs(req Request) string {
	if req.Button != nil {
		return req.Button.Data
	}
	return strings.Join(req.Args, " ")
}
