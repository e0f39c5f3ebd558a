package main

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
)

// knownCommands is every command herald has, and whether it is dangerous; authz rules may name
// only these. A test checks it against the registry.
var knownCommands = map[string]bool{
	"start": false, "help": false, "commands": false, "getid": false, "status": false,
	"list": false, "last": false, "watch": false, "notify": false, "nay": false,
	"version": false, "source": false, "force": true, "stop": true,
	"approve": true, "invite": true,
	"iam": false, "link": true, // people.go
	"quiet": false, "digest": false, "remind": false, "ack": false, // jobs.go
	"hello": false, "shutdown": false, "worker": true, "scheduler": true, // Buildbot's /hello, /shutdown and what its REST API offers instead
}

// AuthzSpec is the authz section in the form package authz takes.
func (c *Config) AuthzSpec() authz.Spec {
	spec := authz.Spec{NotifyAdminsOnly: c.Authz.NotifyAdminsOnly, Registration: authz.RegistrationSpec{
		Mode: c.Authz.Registration, ModeLine: lineOr(c.Authz.RegistrationLine, c.Authz.Line),
		AdminChat: c.Authz.AdminChat, AdminLine: c.Authz.AdminChatLine,
		Unregistered: c.Authz.Unregistered, UnregisteredLine: lineOr(c.Authz.UnregisteredLine, c.Authz.Line),
	}}
	for _, g := range c.Authz.Groups {
		spec.Groups = append(spec.Groups, authz.Group{Name: g.Name, Members: g.Members, Line: g.Line})
	}
	for _, r := range c.Authz.Rules {
		spec.Rules = append(spec.Rules, authz.Rule{Commands: r.Commands, Who: r.Allow, Builders: r.Builders, Line: r.Line})
	}
	return spec
}

// Matrix compiles the authz section.
func (c *Config) Matrix() (*authz.Matrix, error) {
	return authz.Compile(c.AuthzSpec(), c.knownWithActions())
}

// lineOr is line, or the enclosing section's when the key is not in the file.
func lineOr(line, section int) int {
	if line > 0 {
		return line
	}
	return section
}

func (c *Config) authzProblems() []problem {
	out := c.placeholderProblems()
	_, err := c.Matrix()
	if err == nil {
		return out
	}
	var errs authz.Errors
	if !errors.As(err, &errs) {
		return append(out, problem{Line: c.Authz.Line, Msg: "authz: " + err.Error()})
	}
	for _, e := range errs {
		out = append(out, problem{Line: e.Line, Msg: "authz: " + e.Msg})
	}
	return out
}

// placeholderIDs are the user ids Telegram puts in a message's "from" when no person's own
// account speaks. They are the same in every chat, so naming one in authz would grant a
// right to everybody who posts that way, anywhere: /getid shows them to the people they
// stand for, and they get pasted into the config.
var placeholderIDs = map[int64]string{
	1087968824: "is Telegram's stand-in for every anonymous group admin (GroupAnonymousBot), the same in every group: it would let any anonymous admin of any group act. Name the admins by their own ids (/getid while not posting anonymously)",
	136817688:  "is Telegram's stand-in for everyone who posts as a channel (Channel_Bot): it names no person. Name people by their own ids (/getid from their own account)",
	777000:     "is Telegram's service account that forwards channel posts into linked groups: it names no person. Name people by their own ids (/getid from their own account)",
}

// placeholderProblems refuses placeholder ids among group members and rule allow lists, at
// the id's own line.
func (c *Config) placeholderProblems() []problem {
	var out []problem
	check := func(line int, ids []string, lines []int) {
		for i, s := range ids {
			id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			why, ok := placeholderIDs[id]
			if err != nil || !ok {
				continue
			}
			at := line
			if i < len(lines) {
				at = lines[i]
			}
			out = append(out, problem{Line: at, Msg: fmt.Sprintf("authz: %d %s", id, why)})
		}
	}
	for _, g := range c.Authz.Groups {
		check(g.Line, g.Members, g.MembersLines)
	}
	for _, r := range c.Authz.Rules {
		check(r.Line, r.Allow, r.AllowLines)
	}
	return out
}

func knownEvent(name string) bool {
	_, err := ci.ParseKind(name)
	return err == nil
}

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p) }
