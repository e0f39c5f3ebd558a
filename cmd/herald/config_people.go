package main

import (
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// PeopleConfig is the config's people: which Telegram user each CI identity is, so that a
// problem message mentions who broke the build. These are the admin's word: seeded at
// every start as links nobody can take back in the chat, beside those users ask for with
// /iam and an admin confirms.
type PeopleConfig []PersonConfig

// PersonConfig is one person: their Telegram user id and their identities on the CIs. Each
// kind takes one value or a list (someone commits with two addresses).
type PersonConfig struct {
	Telegram                                            int64    `yaml:"telegram"`
	Name                                                string   `yaml:"name"` // how mentions read; empty: the identity matched
	GitHub                                              []string `yaml:"github"`
	GitLab                                              []string `yaml:"gitlab"`
	Email                                               []string `yaml:"email"`
	Buildbot                                            []string `yaml:"buildbot"`
	Line                                                int      `yaml:"-"`
	GitHubLines, GitLabLines, EmailLines, BuildbotLines []int    `yaml:"-"`
}

// identities are the person's identities by kind, each with the line it is at.
func (p PersonConfig) identities() []personIdentity {
	var out []personIdentity
	for _, k := range []struct {
		kind   string
		values []string
		lines  []int
	}{
		{commands.KindGitHub, p.GitHub, p.GitHubLines},
		{commands.KindGitLab, p.GitLab, p.GitLabLines},
		{commands.KindEmail, p.Email, p.EmailLines},
		{commands.KindBuildbot, p.Buildbot, p.BuildbotLines},
	} {
		for i, v := range k.values {
			line := p.Line
			if i < len(k.lines) {
				line = k.lines[i]
			}
			out = append(out, personIdentity{kind: k.kind, value: v, line: line})
		}
	}
	return out
}

type personIdentity struct {
	kind, value string
	line        int
}

// decodeNode decodes the list and checks it as a whole: a user id for each person, at
// least one identity, each a valid one, and no identity (nor user) given twice: one
// identity names one person.
func (c *PeopleConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	d.decodeSlice(n, reflect.ValueOf(c).Elem(), path)
	users := map[int64]int{}          // telegram id → index
	owner := map[store.Identity]int{} // kind + key → index
	for i, p := range *c {
		where := fmt.Sprintf("%s[%d]", path, i)
		switch first, dup := users[p.Telegram]; {
		case p.Telegram <= 0:
			d.addf(p.Line, "%s.telegram is required: the person's Telegram user id (what /getid shows them in a private chat)", where)
		case dup:
			d.addf(p.Line, "%s.telegram %d is %s[%d] already: give one entry all of a person's identities", where, p.Telegram, path, first)
		default:
			users[p.Telegram] = i
		}
		ids := p.identities()
		if len(ids) == 0 {
			d.addf(p.Line, "%s: no identity: give at least one of github, gitlab, email, buildbot", where)
		}
		for _, id := range ids {
			if err := commands.CheckIdentity(id.kind, id.value); err != nil {
				msg, _ := commands.AsUser(err)
				d.addf(id.line, "%s.%s: %s", where, id.kind, msg)
				continue
			}
			key := store.Identity{Kind: id.kind, Value: store.IdentityKey(id.kind, id.value)}
			if first, dup := owner[key]; dup {
				if first == i {
					d.addf(id.line, "%s.%s: %q is given twice", where, id.kind, id.value)
				} else {
					d.addf(id.line, "%s.%s: %q is %s[%d]'s already: one identity names one person", where, id.kind, id.value, path, first)
				}
				continue
			}
			owner[key] = i
		}
	}
}

// PeopleLinks are the config's people as the links store.SeedPeople makes.
func (c *Config) PeopleLinks() []store.PersonLink {
	var out []store.PersonLink
	for _, p := range c.People {
		for _, id := range p.identities() {
			out = append(out, store.PersonLink{TelegramID: p.Telegram, Kind: id.kind, Identity: id.value, Name: p.Name})
		}
	}
	return out
}
