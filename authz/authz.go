// Package authz is herald's permission matrix: who may run which chat command, and for
// dangerous commands on which builders. It keeps the meaning of Buildbot's Telegram `authz`
// option so an admin moving from Buildbot's bot finds the same behaviour:
//
//   - harmless ("safe") commands are allowed for everyone unless a rule restricts them;
//   - dangerous commands (force, stop, shutdown) are denied unless a rule allows them;
//   - the special command name "safe" (Buildbot's empty name) stands for every harmless command and
//     "dangerous" (Buildbot's '!') for every dangerous one;
//   - a rule's value is everyone, nobody, or a list of user ids and named groups.
//
// Beyond Buildbot: named groups of users ("@docs"); rules on dangerous commands limited to
// builders by glob (package ci/glob: path.Match's syntax, but * also matches "/", so
// "release-*" covers "release-1.0/linux"); and NotifyAdminsOnly, which lets only a
// group's admins change its /notify settings.
//
// # Precedence
//
// For a command C on builder B the deciding rule is found in this order, the first level that
// has a match wins:
//
//  1. a rule naming C with a builder glob that matches B;
//  2. a rule naming C without builders;
//  3. a "safe"/"dangerous" rule (whichever class C belongs to) with a glob matching B;
//  4. a "safe"/"dangerous" rule without builders;
//  5. the defaults: safe commands for everyone, dangerous ones for nobody.
//
// Within one level the LAST matching rule in the file wins, as a later key wins in a Python
// dict. A rule replaces what less specific rules say, it does not add to them: with
//
//   - {commands: [dangerous], allow: ["@release"]}
//   - {commands: [force], allow: ["@docs"], builders: ["docs-*"]}
//
// only @docs may force docs-* builders (release engineers may still stop them and force
// everything else); write allow: ["@docs", "@release"] to keep both. Replacing rather than adding
// is what lets a rule take a right away again ("nobody may force release-*").
//
// Decisions are checked against the user who acts, at the moment of acting: callers ask again
// once the builder is known, because a decision for an unknown builder only says whether the
// user may act on some builder.
package authz

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/herald-ci/herald/ci/glob"
)

// Special names a rule may use in Commands and Who.
const (
	AllSafe      = "safe"      // every harmless command (Buildbot's '')
	AllDangerous = "dangerous" // every dangerous command (Buildbot's '!')
	Everyone     = "everyone"
	Nobody       = "nobody"
)

// dangerousCommands are the commands Buildbot marks dangerous; the known map given to Compile
// is authoritative, this list is for commands the caller did not mention.
var dangerousCommands = map[string]bool{"force": true, "stop": true, "shutdown": true, Approve: true, Invite: true, Link: true}

// IsDangerous reports whether command is one of Buildbot's dangerous commands, which are
// denied unless the admin allows them.
func IsDangerous(command string) bool { return dangerousCommands[command] }

// Spec is the authz section of herald's config as the loader decoded it.
type Spec struct {
	Groups           []Group
	Rules            []Rule
	NotifyAdminsOnly bool
	// Registration says who may use herald at all (see registration.go); its zero value is
	// today's behaviour, RegistrationOpen.
	Registration RegistrationSpec
}

// Group names a set of users that rules refer to as "@name".
type Group struct {
	Name    string
	Members []string // Telegram user ids, as text
	Line    int
}

// Rule says who may run some commands, optionally only on some builders.
type Rule struct {
	Commands []string // command names without slash, or "safe" / "dangerous"
	Who      []string // "everyone" | "nobody" | numeric user id | "@group"
	Builders []string // optional globs; only meaningful for dangerous commands
	Line     int
}

// Error is one problem in a Spec, at the config line it comes from.
type Error struct {
	Line int
	Msg  string
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Errors is every problem Compile found, so an admin fixes the config in one go.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// who is a compiled rule value.
type who struct {
	everyone bool
	users    map[int64]bool // nil or empty: nobody (unless everyone)
}

func (w who) has(user int64) bool { return w.everyone || w.users[user] }

// rule is a compiled rule for one command or class.
type rule struct {
	who      who
	builders []string       // nil: every builder; as written, for reasons shown to users
	globs    []glob.Pattern // builders, compiled
}

func (r rule) matches(builder string) bool {
	for _, g := range r.globs {
		if g.Match(builder) {
			return true
		}
	}
	return false
}

// Matrix is a compiled, validated Spec. It is immutable and safe for concurrent use.
type Matrix struct {
	known            map[string]bool
	byCommand        map[string][]rule // file order
	safe             []rule            // "safe" rules, file order
	dangerous        []rule            // "dangerous" rules, file order
	notifyAdminsOnly bool
	reg              registration
}

// Default is Buildbot's behaviour without an authz option: safe commands for everyone,
// dangerous ones for nobody.
func Default(known map[string]bool) *Matrix {
	return &Matrix{known: copyKnown(known), byCommand: map[string][]rule{}}
}

func copyKnown(known map[string]bool) map[string]bool {
	out := make(map[string]bool, len(known))
	for k, v := range known {
		out[k] = v
	}
	return out
}

// Compile validates spec against the commands herald has (name → dangerous?) and builds the
// matrix. It reports every problem at once as Errors.
func Compile(spec Spec, known map[string]bool) (*Matrix, error) {
	m := Default(known)
	m.notifyAdminsOnly = spec.NotifyAdminsOnly
	var errs Errors
	fail := func(line int, format string, args ...any) {
		errs = append(errs, Error{Line: line, Msg: fmt.Sprintf(format, args...)})
	}

	groups := map[string]map[int64]bool{}
	groupLine := map[string]int{}
	for _, g := range spec.Groups {
		switch {
		case g.Name == "":
			fail(g.Line, "group name is empty")
			continue
		case strings.HasPrefix(g.Name, "@"):
			fail(g.Line, "group name %q must not start with @ (name it %q; rules write %q)", g.Name, g.Name[1:], g.Name)
			continue
		}
		if first, dup := groupLine[g.Name]; dup {
			fail(g.Line, "duplicate group %q (first defined on line %d)", g.Name, first)
			continue
		}
		groupLine[g.Name] = g.Line
		members := map[int64]bool{}
		for _, s := range g.Members {
			id, msg := parseUser(s)
			if msg != "" {
				fail(g.Line, "group %q: %s", g.Name, msg)
				continue
			}
			members[id] = true
		}
		groups[g.Name] = members
	}

	for _, r := range spec.Rules {
		w, ok := compileWho(r, groups, fail)
		if len(r.Commands) == 0 {
			fail(r.Line, "commands is empty")
			ok = false
		}
		for _, c := range r.Commands {
			dangerous, known := m.classOf(c)
			if !known {
				if strings.HasPrefix(c, "/") {
					fail(r.Line, "unknown command %q (write command names without the slash)", c)
				} else {
					fail(r.Line, "unknown command %q", c)
				}
				ok = false
				continue
			}
			if len(r.Builders) > 0 && !dangerous {
				fail(r.Line, "builders are allowed only on dangerous commands, not on %q", c)
				ok = false
			}
		}
		var globs []glob.Pattern
		for _, g := range r.Builders {
			if g == "" {
				fail(r.Line, "empty builder pattern")
				ok = false
				continue
			}
			p, err := glob.Compile(g)
			var bad *glob.Error
			switch {
			case errors.As(err, &bad):
				fail(r.Line, "bad builder pattern %q: %s", g, bad.Problem)
				ok = false
			case err != nil:
				fail(r.Line, "bad builder pattern %q: %v", g, err)
				ok = false
			default:
				globs = append(globs, p)
			}
		}
		if !ok {
			continue
		}
		cr := rule{who: w}
		if len(r.Builders) > 0 {
			cr.builders = append([]string(nil), r.Builders...)
			cr.globs = globs
		}
		for _, c := range r.Commands {
			switch c {
			case AllSafe:
				m.safe = append(m.safe, cr)
			case AllDangerous:
				m.dangerous = append(m.dangerous, cr)
			default:
				m.byCommand[c] = append(m.byCommand[c], cr)
			}
		}
	}
	m.compileRegistration(spec.Registration, fail)
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// classOf says whether a command name in a rule is dangerous, and whether herald knows it.
func (m *Matrix) classOf(c string) (dangerous, known bool) {
	switch c {
	case AllSafe:
		return false, true
	case AllDangerous:
		return true, true
	}
	d, ok := m.known[c]
	return d, ok
}

// compileWho checks a rule's Who and turns it into a set of users.
func compileWho(r Rule, groups map[string]map[int64]bool, fail func(int, string, ...any)) (who, bool) {
	if len(r.Who) == 0 {
		fail(r.Line, "who is empty (write %q to deny everyone)", Nobody)
		return who{}, false
	}
	for _, s := range r.Who {
		if (s == Everyone || s == Nobody) && len(r.Who) > 1 {
			fail(r.Line, "%q cannot be mixed with other entries", s)
			return who{}, false
		}
	}
	switch r.Who[0] {
	case Everyone:
		return who{everyone: true}, true
	case Nobody:
		return who{}, true
	}
	w := who{users: map[int64]bool{}}
	ok := true
	for _, s := range r.Who {
		if name, isGroup := strings.CutPrefix(s, "@"); isGroup {
			members, found := groups[name]
			if !found {
				fail(r.Line, "unknown group %q", s)
				ok = false
				continue
			}
			for id := range members {
				w.users[id] = true
			}
			continue
		}
		id, msg := parseUser(s)
		if msg != "" {
			fail(r.Line, "%s", msg)
			ok = false
			continue
		}
		w.users[id] = true
	}
	return w, ok
}

// parseUser reads a Telegram user id; msg says what is wrong with it.
func parseUser(s string) (id int64, msg string) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Sprintf("user id %q is not a number", s)
	}
	if id <= 0 {
		// Negative ids are group chats: a rule naming one would never match a user.
		return 0, fmt.Sprintf("user id %q must be positive (negative ids are chats, not users)", s)
	}
	return id, ""
}
