package authz

import (
	"slices"
	"strings"
)

// Registration modes: who may use herald at all, before any rule is asked.
//
//   - open: every chat may (herald's behaviour before registration existed, and the default);
//   - approval: a chat that is not registered asks with /start, and someone who may approve
//     lets it in with a button;
//   - invite: a chat gets in only through an invite link (/invite), nobody asks.
//
// Registration is per chat, not per user: a group is let in once for all its members, the
// way a subscription is the chat's. Invite links work in approval mode too.
const (
	RegistrationOpen     = "open"
	RegistrationApproval = "approval"
	RegistrationInvite   = "invite"
)

// The commands registration adds. Both are dangerous (denied unless a rule allows them):
// letting a chat in is an admin's act, like forcing a build.
const (
	Approve = "approve" // decide on registration requests (the buttons, and /approve)
	Invite  = "invite"  // make invite links
)

// DefaultUnregistered is what a chat that is not registered may use when the config does
// not say: enough to ask for access and to find the ids an admin needs.
var DefaultUnregistered = []string{"start", "getid", "help"}

// RegistrationSpec is the registration part of the authz section.
type RegistrationSpec struct {
	Mode      string // "" means RegistrationOpen
	ModeLine  int
	AdminChat int64 // where requests go (0: to the private chats of the users allowed approve)
	AdminLine int
	// Unregistered lists the commands a chat that is not registered may use; nil means
	// DefaultUnregistered. /start is always allowed: it is how a chat asks.
	Unregistered     []string
	UnregisteredLine int
}

// registration is a compiled RegistrationSpec.
type registration struct {
	mode         string
	adminChat    int64
	unregistered map[string]bool // nil: DefaultUnregistered
}

// compileRegistration checks spec against the compiled rules (it runs after them: approval
// needs someone the requests can reach, and that depends on who may approve).
func (m *Matrix) compileRegistration(spec RegistrationSpec, fail func(int, string, ...any)) {
	r := registration{mode: spec.Mode, adminChat: spec.AdminChat}
	switch spec.Mode {
	case "", RegistrationOpen:
		r.mode = RegistrationOpen
	case RegistrationApproval, RegistrationInvite:
	default:
		fail(spec.ModeLine, "registration must be %s, %s or %s, not %q",
			RegistrationOpen, RegistrationApproval, RegistrationInvite, spec.Mode)
	}
	if spec.Unregistered != nil {
		r.unregistered = map[string]bool{}
		for _, c := range spec.Unregistered {
			dangerous, known := m.classOf(c)
			switch {
			case c == AllSafe || c == AllDangerous:
				fail(spec.UnregisteredLine, "unregistered lists commands one by one, not %q", c)
			case !known && strings.HasPrefix(c, "/"):
				fail(spec.UnregisteredLine, "unknown command %q in unregistered (write command names without the slash)", c)
			case !known:
				fail(spec.UnregisteredLine, "unknown command %q in unregistered", c)
			case dangerous:
				fail(spec.UnregisteredLine, "unregistered chats cannot be given the dangerous command %q", c)
			default:
				r.unregistered[c] = true
			}
		}
	}
	m.reg = r
	switch r.mode {
	case RegistrationApproval:
		if r.adminChat == 0 && len(m.Approvers()) == 0 {
			fail(spec.ModeLine, "registration: approval needs admin_chat, or a rule allowing %s to users by id "+
				"(requests then go to their private chats): nobody would see a request", Approve)
		}
	case RegistrationInvite:
		if !m.anyoneMay(Invite) {
			fail(spec.ModeLine, "registration: invite needs a rule allowing %s to someone: nobody could let a chat in", Invite)
		}
	}
}

// Registration is the registration mode in force: RegistrationOpen, RegistrationApproval or
// RegistrationInvite.
func (m *Matrix) Registration() string {
	if m.reg.mode == "" {
		return RegistrationOpen
	}
	return m.reg.mode
}

// AdminChat is the chat registration requests go to; 0 when they go to the approvers'
// private chats.
func (m *Matrix) AdminChat() int64 { return m.reg.adminChat }

// UnregisteredMay reports whether a chat that is not registered may use command (lower case,
// no slash). /start always may: it is how a chat asks to be let in.
func (m *Matrix) UnregisteredMay(command string) bool {
	if command == "start" {
		return true
	}
	if m.reg.unregistered == nil {
		return slices.Contains(DefaultUnregistered, command)
	}
	return m.reg.unregistered[command]
}

// MayApprove reports whether user, acting in chat, may decide on registration requests:
// whoever is in the admin chat (the admin chose it for this), and anyone a rule allows
// approve, anywhere.
func (m *Matrix) MayApprove(user, chat int64) bool {
	if m.reg.adminChat != 0 && chat == m.reg.adminChat {
		return true
	}
	return m.Decide(user, Approve, "").Allowed
}

// LetsIn reports whether user, in chat, is one of those who let chats in (the admin chat,
// the users allowed approve or invite): they are never turned away as unregistered, or
// nobody could ever register anything.
func (m *Matrix) LetsIn(user, chat int64) bool {
	return m.MayApprove(user, chat) || m.Decide(user, Invite, "").Allowed
}

// Approvers are the users, named by id in the rules, who may approve: the private chats a
// request goes to when there is no admin chat. "everyone" names nobody here.
func (m *Matrix) Approvers() []int64 {
	return m.namedUsers(Approve)
}

// namedUsers are the users named in some rule who may run command, sorted.
func (m *Matrix) namedUsers(command string) []int64 {
	seen := map[int64]bool{}
	var out []int64
	for _, rules := range [][]rule{m.byCommand[command], m.safe, m.dangerous} {
		for _, r := range rules {
			for id := range r.who.users {
				if !seen[id] && m.Decide(id, command, "").Allowed {
					seen[id] = true
					out = append(out, id)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// anyoneMay reports whether some user may run command: one named in a rule, or everyone.
// No Telegram user has id 0, so the answer for 0 is what holds for people no rule names.
func (m *Matrix) anyoneMay(command string) bool {
	return m.Decide(0, command, "").Allowed || len(m.namedUsers(command)) > 0
}
