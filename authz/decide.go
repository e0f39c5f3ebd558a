package authz

import (
	"fmt"
	"strings"

	"github.com/herald-ci/herald/ci/glob"
)

// Decision is the answer to "may this user run this command here?".
type Decision struct {
	Allowed bool
	// Reason is chat-safe text: why the command is denied ("you may not use /force",
	// "you may force only docs-*"), or, for an allowed dangerous command whose builder is
	// not known yet, the limit the user will meet ("you may force only docs-*"). Empty
	// otherwise.
	Reason string
	// Only lists the builder globs the user may act on when the right is limited to some
	// builders (nil: no such limit), so a caller can offer only those builders.
	Only []string
}

// noBuilder stands for a builder no ordinary glob names: only patterns that match every
// name (such as "*") match it. Deciding for it tells what holds outside every scoped rule.
const noBuilder = "\x00"

// Dangerous reports whether command is dangerous in this matrix: what needs a person who
// can be named in a rule (callers refuse it from senders Telegram does not name).
func (m *Matrix) Dangerous(command string) bool { return m.dangerousCmd(command) }

// dangerousCmd says whether command is dangerous: the known map first, Buildbot's list for
// commands the caller did not mention.
func (m *Matrix) dangerousCmd(command string) bool {
	if d, ok := m.known[command]; ok {
		return d
	}
	return IsDangerous(command)
}

// decide finds the deciding rule for command on builder (see the package doc for the order)
// and applies it to user. For a safe command the builder is ignored.
func (m *Matrix) decide(user int64, command, builder string) bool {
	dangerous := m.dangerousCmd(command)
	class := m.safe
	if dangerous {
		class = m.dangerous
	}
	for _, rules := range [][]rule{m.byCommand[command], class} {
		if dangerous {
			if r, ok := lastScoped(rules, builder); ok {
				return r.who.has(user)
			}
		}
		if r, ok := lastUnscoped(rules); ok {
			return r.who.has(user)
		}
	}
	return !dangerous
}

func lastScoped(rules []rule, builder string) (rule, bool) {
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].builders != nil && rules[i].matches(builder) {
			return rules[i], true
		}
	}
	return rule{}, false
}

func lastUnscoped(rules []rule) (rule, bool) {
	for i := len(rules) - 1; i >= 0; i-- {
		if rules[i].builders == nil {
			return rules[i], true
		}
	}
	return rule{}, false
}

// scope works out where user may run a dangerous command: everywhere reports whether builders
// outside every scoped rule are allowed, and only lists the globs of scoped rules under which
// the user is allowed. Glob intersection is not worth solving here: each glob is tried on a
// few builder names it matches (see examples), which stand for the builders it matches. That
// can be wrong when other globs single those names out, so callers decide again with the
// real builder before acting.
func (m *Matrix) scope(user int64, command string) (everywhere bool, only []string) {
	everywhere = m.decide(user, command, noBuilder)
	seen := map[string]bool{}
	for _, rules := range [][]rule{m.byCommand[command], m.dangerous} {
		for _, r := range rules {
			for _, g := range r.builders {
				if seen[g] {
					continue
				}
				seen[g] = true
				for _, name := range examples(g) {
					if m.decide(user, command, name) {
						only = append(only, g)
						break
					}
				}
			}
		}
	}
	return everywhere, only
}

// examples returns builder names that pattern (a valid glob) matches: one where every
// wildcard matches as little as it can, one where it matches a character no real builder name
// has, so that as few other globs as possible match it too.
func examples(pattern string) []string {
	var out []string
	for _, filler := range []string{"", noBuilder} {
		var b strings.Builder
		for i := 0; i < len(pattern); i++ {
			switch c := pattern[i]; c {
			case '*':
				b.WriteString(filler)
			case '?':
				b.WriteString(noBuilder)
			case '\\':
				if i+1 < len(pattern) {
					i++
					b.WriteByte(pattern[i])
				}
			case '[':
				end := classEnd(pattern, i)
				if end < 0 {
					return out
				}
				b.WriteString(classMember(pattern[i : end+1]))
				i = end
			default:
				b.WriteByte(c)
			}
		}
		if glob.Match(pattern, b.String()) {
			out = append(out, b.String())
		}
	}
	return out
}

// classEnd is the index of the ] that closes the class opening at pattern[start], or -1.
func classEnd(pattern string, start int) int {
	i := start + 1
	if i < len(pattern) && pattern[i] == '^' {
		i++
	}
	for ; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			i++
		case ']':
			return i
		}
	}
	return -1
}

// classMember returns a character that the class "[...]" matches.
func classMember(class string) string {
	for _, c := range []string{noBuilder, "a", "x", "0", "-", "_", "."} {
		if glob.Match(class, c) {
			return c
		}
	}
	for c := 0x20; c < 0x7f; c++ {
		if glob.Match(class, string(rune(c))) {
			return string(rune(c))
		}
	}
	return ""
}

// Decide says whether user may run command (lower case, no slash) on builder. builder "" means
// the builder is not known yet: a dangerous command is then allowed when the user may run it
// on at least one builder, and the caller must decide again once the builder is chosen.
func (m *Matrix) Decide(userID int64, command, builder string) Decision {
	if !m.dangerousCmd(command) {
		if m.decide(userID, command, builder) {
			return Decision{Allowed: true}
		}
		return Decision{Reason: notAllowed(command)}
	}
	everywhere, only := m.scope(userID, command)
	if everywhere {
		only = nil
	}
	if builder == "" {
		switch {
		case everywhere:
			return Decision{Allowed: true}
		case len(only) > 0:
			return Decision{Allowed: true, Reason: onlyOn(command, only), Only: only}
		default:
			return Decision{Reason: notAllowed(command)}
		}
	}
	if m.decide(userID, command, builder) {
		return Decision{Allowed: true, Only: only}
	}
	switch {
	case len(only) > 0:
		return Decision{Reason: onlyOn(command, only), Only: only}
	case everywhere:
		return Decision{Reason: fmt.Sprintf("you may not use /%s on %s", command, builder)}
	default:
		return Decision{Reason: notAllowed(command)}
	}
}

func notAllowed(command string) string { return "you may not use /" + command }

func onlyOn(command string, globs []string) string {
	return fmt.Sprintf("you may %s only %s", command, strings.Join(globs, ", "))
}

// MayAny reports whether user may run command on at least one builder: whether to offer the
// command (its keyboard, its menu entry) at all.
func (m *Matrix) MayAny(userID int64, command string) bool {
	return m.Decide(userID, command, "").Allowed
}

// MayNotify reports whether a user may change a chat's /notify settings. With
// NotifyAdminsOnly, only a group's admins may: one member should not be able to flood, or
// silence, a whole team. In a private chat the user always may.
func (m *Matrix) MayNotify(isGroup, isAdmin bool) bool {
	return !m.notifyAdminsOnly || !isGroup || isAdmin
}

// NotifyAdminsOnly reports whether the admin-only /notify rule is on: only then is it worth
// asking Telegram who administers a group (an extra call, which can fail).
func (m *Matrix) NotifyAdminsOnly() bool { return m.notifyAdminsOnly }
