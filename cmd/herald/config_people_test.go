package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/herald-ci/herald/store"
)

func TestPeopleConfig(t *testing.T) {
	raw := relayBase + `people:
  - telegram: 123456789
    name: Ann
    github: ann
    gitlab: ann
    email: [ann@example.com, "${ANN_WORK_MAIL}"]
    buildbot: "Ann <ann@example.com>"
  - {telegram: 987, gitlab: bob}
`
	cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(map[string]string{"ANN_WORK_MAIL": "ann@work.example"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PersonLink{
		{TelegramID: 123456789, Kind: "github", Identity: "ann", Name: "Ann"},
		{TelegramID: 123456789, Kind: "gitlab", Identity: "ann", Name: "Ann"},
		{TelegramID: 123456789, Kind: "email", Identity: "ann@example.com", Name: "Ann"},
		{TelegramID: 123456789, Kind: "email", Identity: "ann@work.example", Name: "Ann"},
		{TelegramID: 123456789, Kind: "buildbot", Identity: "Ann <ann@example.com>", Name: "Ann"},
		{TelegramID: 987, Kind: "gitlab", Identity: "bob"},
	}
	if got := cfg.PeopleLinks(); !reflect.DeepEqual(got, want) {
		t.Errorf("PeopleLinks =\n%+v\nwant\n%+v", got, want)
	}
}

// The messages are compared verbatim, each at its line.
func TestPeopleConfigProblems(t *testing.T) {
	raw := relayBase + `people:
  - github: ann
  - telegram: 5
  - telegram: 6
    github: [Ann, "bad login"]
    email: nobody
    jira: x
  - telegram: 6
    gitlab: carl
    email: [carl@example.com, Carl@Example.com]
    buildbot: "Carl\u0007"
`
	_, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
	want := []string{
		`t.yaml:6: people[0].telegram is required: the person's Telegram user id (what /getid shows them in a private chat)`,
		`t.yaml:7: people[1]: no identity: give at least one of github, gitlab, email, buildbot`,
		`t.yaml:9: people[2].github: "Ann" is people[0]'s already: one identity names one person`,
		`t.yaml:9: people[2].github: "bad login" is not a GitHub login (letters, digits and -, at most 39).`,
		`t.yaml:10: people[2].email: "nobody" is not an email address.`,
		`t.yaml:11: people[2]: unknown key "jira" (known keys: telegram, name, github, gitlab, email, buildbot)`,
		`t.yaml:12: people[3].telegram 6 is people[2] already: give one entry all of a person's identities`,
		`t.yaml:14: people[3].email: "Carl@Example.com" is given twice`,
		`t.yaml:15: people[3].buildbot: A Buildbot author is 1 to 200 printable characters, as Buildbot shows it (Ann <ann@example.com>).`,
	}
	if err == nil {
		t.Fatal("no problems reported")
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestReadmeMentionsExample: the README's example under Mentions loads as written and means
// what the README says of it.
func TestReadmeMentionsExample(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "### Mentions\n")
	if !ok {
		t.Fatal("the README has no section Mentions")
	}
	_, rest, ok := strings.Cut(section, "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	if !ok || !strings.HasPrefix(block, "people:\n") {
		t.Fatalf("no people: example in the section Mentions: %q", block)
	}
	cfg, err := parseConfig("README.md", []byte(relayBase+block), testEnv(nil))
	if err != nil {
		t.Fatalf("the README's example does not load:\n%v", err)
	}
	links := cfg.PeopleLinks()
	if len(links) != 5 || links[0] != (store.PersonLink{TelegramID: 123456789, Kind: "github", Identity: "ann", Name: "Ann"}) {
		t.Errorf("PeopleLinks = %+v; want Ann's five identities, github:ann first", links)
	}
	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if !m.MayLink(123456) || m.MayLink(123456789) || !m.Dangerous("link") {
		t.Error("123456 should confirm links, and only they")
	}
}
