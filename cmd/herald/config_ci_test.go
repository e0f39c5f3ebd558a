package main

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/github"
)

// fakeSection is a provider section of a kind herald does not have, to show that the config
// reads any section through providerTypes.
type fakeSection struct {
	Endpoint      string   `yaml:"endpoint"`
	Repos         []string `yaml:"repos"`
	WebhookSecret string   `yaml:"webhook_secret"`
}

func (s *fakeSection) Validate() []ci.ConfigProblem {
	var ps []ci.ConfigProblem
	if s.Endpoint == "" {
		ps = append(ps, ci.ConfigProblem{Key: "endpoint", Msg: "endpoint is required"})
	}
	for _, r := range s.Repos {
		if !strings.Contains(r, "/") {
			ps = append(ps, ci.ConfigProblem{Key: "repos", Msg: "repos: " + r + " is not owner/name"})
		}
	}
	return ps
}

func (s *fakeSection) Secrets() []string { return []string{s.WebhookSecret} }

// withProviderType adds t to providerTypes for the test.
func withProviderType(tb testing.TB, t providerType) {
	saved := providerTypes
	providerTypes = append(append([]providerType(nil), saved...), t)
	tb.Cleanup(func() { providerTypes = saved })
}

func fakeProviderType(build func(conn string, s *fakeSection, log zerolog.Logger) (ci.Provider, error)) providerType {
	if build == nil {
		build = func(string, *fakeSection, zerolog.Logger) (ci.Provider, error) {
			return nil, errors.New("fake: not made in this test")
		}
	}
	return providerOf("fake", func() *fakeSection { return &fakeSection{} }, build)
}

func configProblems(t *testing.T, raw string) string {
	t.Helper()
	_, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("parseConfig error = %v; want a *ConfigError", err)
	}
	return strings.Join(ce.Problems, "\n")
}

const configBase = "telegram:\n  token: 1:a\ndatabase:\n  url: postgres://x@y/z\n"

// Each ci: entry is read by its type's section: the keys, their lines and the messages are
// the provider's, checked as strictly as the rest of the file, every problem at once.
func TestCIEntryProblems(t *testing.T) {
	tests := []struct {
		name string
		ci   string // from line 5
		want []string
	}{
		{"unknown type, checked as the closest", "ci:\n  - name: main\n    type: buildbto\n    url: nowhere\n", []string{
			`t.yaml:6: ci[0].type must be one of: buildbot, github, gitlab, jenkins, fake, not "buildbto"`,
			`t.yaml:8: ci[0].url must be the CI's http(s) URL`,
		}},
		{"missing type, checked as the first", "ci:\n  - name: main\n", []string{
			`t.yaml:6: ci[0].type must be one of: buildbot, github, gitlab, jenkins, fake, not ""`,
			`t.yaml:6: ci[0].url must be the CI's http(s) URL`,
		}},
		{"a type close to the fake", "ci:\n  - name: main\n    type: faek\n    endpoint: e\n", []string{
			`t.yaml:6: ci[0].type must be one of: buildbot, github, gitlab, jenkins, fake, not "faek"`,
		}},
		{"unknown key names the type's keys", "ci:\n  - name: main\n    type: buildbot\n    url: http://ci/\n    repos: [a/b]\n", []string{
			`t.yaml:9: ci[0]: unknown key "repos" (known keys: name, type, url, auth, poll_interval, tags)`,
		}},
		{"the fake's keys", "ci:\n  - name: gh\n    type: fake\n    url: http://ci/\n", []string{
			`t.yaml:6: ci[0].endpoint is required`,
			`t.yaml:8: ci[0]: unknown key "url" (known keys: name, type, endpoint, repos, webhook_secret)`,
		}},
		{"a problem at its key's line", "ci:\n  - name: gh\n    type: fake\n    endpoint: e\n    repos:\n      - a/b\n      - c\n", []string{
			`t.yaml:10: ci[0].repos: c is not owner/name`,
		}},
		{"auth.type at its own line", "ci:\n  - name: main\n    type: buildbot\n    url: http://ci/\n    auth:\n      username: u\n      type: digest\n", []string{
			`t.yaml:11: ci[0].auth.type must be none, basic or bearer`,
		}},
		{"auth at its mapping's line", "ci:\n  - name: main\n    type: buildbot\n    url: http://ci/\n    auth:\n      type: basic\n      username: u\n", []string{
			`t.yaml:10: ci[0].auth: basic needs username and password`,
		}},
		{"name and type twice", "ci:\n  - name: a\n    type: buildbot\n    name: b\n    type: buildbot\n    url: http://ci/\n", []string{
			`t.yaml:8: ci[0]: key "name" appears twice`,
			`t.yaml:9: ci[0]: key "type" appears twice`,
		}},
		{"an empty entry", "ci:\n  -\n", []string{
			`t.yaml: ci[0].name must be a short lower-case name like main or nightly`,
			`t.yaml: ci[0].type must be one of: buildbot, github, gitlab, jenkins, fake, not ""`,
			`t.yaml: ci[0].url must be the CI's http(s) URL`,
		}},
	}
	withProviderType(t, fakeProviderType(nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := configProblems(t, configBase+tt.ci); got != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// A valid entry's section is its type's, decoded, and its secrets reach the log filter.
func TestCIEntrySections(t *testing.T) {
	withProviderType(t, fakeProviderType(nil))
	raw := configBase + "ci:\n  - name: main\n    type: buildbot\n    url: http://ci:8010/\n    auth: {type: bearer, token: tok-1234}\n" +
		"  - name: gh\n    type: fake\n    endpoint: https://api.example.org\n    repos: [acme/widgets]\n    webhook_secret: hook-5678\n"
	cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	bb, ok := cfg.CI[0].Section.(*buildbot.Section)
	if !ok || bb.URL != "http://ci:8010/" || bb.Auth.Token != "tok-1234" {
		t.Errorf("ci[0] section %+v; want the buildbot section as written", cfg.CI[0].Section)
	}
	want := &fakeSection{Endpoint: "https://api.example.org", Repos: []string{"acme/widgets"}, WebhookSecret: "hook-5678"}
	if !reflect.DeepEqual(cfg.CI[1].Section, want) {
		t.Errorf("ci[1] section %+v; want %+v", cfg.CI[1].Section, want)
	}
	secrets := map[string]bool{}
	for _, s := range cfg.secrets() {
		secrets[string(s)] = true
	}
	if !secrets["tok-1234"] || !secrets["hook-5678"] {
		t.Errorf("log filter secrets %q; want both connections' secrets", cfg.secrets())
	}
}

// A key of a connection named like a secret is never quoted, whatever the provider.
func TestCISecretKeysNeverQuoted(t *testing.T) {
	withProviderType(t, fakeProviderType(nil))
	for _, key := range []string{"webhook_secret", "token", "private_key", "password"} {
		t.Run(key, func(t *testing.T) {
			got := configProblems(t, configBase+"ci:\n  - name: gh\n    type: fake\n    endpoint: e\n    "+key+": [SECRET-value]\n")
			if strings.Contains(got, "SECRET") {
				t.Errorf("a problem quotes the secret:\n%s", got)
			}
		})
	}
}

// The one table makes every connection's provider; an unknown type never gets that far.
func TestNewProvidersUsesTheTable(t *testing.T) {
	var made []string
	withProviderType(t, fakeProviderType(func(conn string, s *fakeSection, _ zerolog.Logger) (ci.Provider, error) {
		made = append(made, conn+" "+s.Endpoint)
		return &fakeProvider{name: conn}, nil
	}))
	cfg := &Config{CI: []CIConfig{
		{Name: "main", Type: "buildbot", Section: &buildbot.Section{URL: "http://ci:8010/"}},
		{Name: "gh", Type: "fake", Section: &fakeSection{Endpoint: "e"}},
	}}
	ps, err := newProviders(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Kind() != "buildbot" || ps[1].Name() != "gh" || !reflect.DeepEqual(made, []string{"gh e"}) {
		t.Errorf("providers %v, fake made %q", ps, made)
	}
	cfg.CI = append(cfg.CI, CIConfig{Name: "x", Type: "teamcity", Section: &fakeSection{}})
	if _, err := newProviders(cfg, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), `type "teamcity" is not one of: buildbot, github, gitlab, jenkins, fake`) {
		t.Errorf("err = %v; want the unknown type named", err)
	}
}

// A connection's name is part of its webhook's URL path (/ci/<name>/webhook): every name the
// config accepts is one path segment that needs no escaping.
func TestConnectionNamesAreSafeInAPath(t *testing.T) {
	for _, name := range []string{"main", "nightly-2", "gh_actions", "0", "a-b_c-9"} {
		if !namePattern.MatchString(name) || url.PathEscape(name) != name || strings.ContainsAny(name, "/.%?#") {
			t.Errorf("name %q: accepted %v, escaped %q", name, namePattern.MatchString(name), url.PathEscape(name))
		}
	}
	for _, name := range []string{"", "a/b", "..", ".", "a.b", "a%2fb", "A", "-a", "a b", "a?b", "a#b", "ä"} {
		if namePattern.MatchString(name) {
			t.Errorf("name %q accepted; it is not a plain path segment", name)
		}
	}
}

func FuzzConnectionNamesAreSafeInAPath(f *testing.F) {
	f.Add("main")
	f.Add("a/b")
	f.Fuzz(func(t *testing.T, name string) {
		if namePattern.MatchString(name) && (url.PathEscape(name) != name || name == "." || name == "..") {
			t.Errorf("name %q accepted but not a plain path segment", name)
		}
	})
}

// A type: github entry is read by ci/github's section: its problems at their keys' lines,
// every one at once, no secret quoted.
func TestGitHubEntryProblems(t *testing.T) {
	tests := []struct {
		name string
		ci   string // from line 5
		want []string
	}{
		{"everything wrong at its line", "ci:\n  - name: gh\n    type: github\n    url: api.github.com\n    repos:\n      - acme/widgets\n      - widgets\n      - Acme/Widgets\n    auth:\n      type: oauth\n      token: SECRET-1\n    poll_interval: 5s\n", []string{
			`t.yaml:8: ci[0].url must be GitHub's REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server`,
			`t.yaml:10: ci[0].repos: "widgets" is not owner/name`, // the list's line: its items have none of their own
			`t.yaml:10: ci[0].repos: Acme/Widgets is listed twice`,
			`t.yaml:14: ci[0].auth.type must be bearer or github_app`,
			`t.yaml:16: ci[0].poll_interval must be at least 10s`,
		}},
		{"no repos and no auth", "ci:\n  - name: gh\n    type: github\n", []string{
			`t.yaml:6: ci[0].repos must list at least one repository as owner/name`,
			`t.yaml:6: ci[0].auth is required: {type: bearer, token: ...} or {type: github_app, app_id, installation_id, private_key_file}`,
		}},
		{"an App whose key file is missing", "ci:\n  - name: gh\n    type: github\n    repos: [acme/widgets]\n    auth:\n      type: github_app\n      app_id: 12\n      installation_id: 34\n      private_key_file: /nonexistent/app.pem\n", []string{
			`t.yaml:13: ci[0].auth.private_key_file /nonexistent/app.pem does not exist`,
		}},
		{"an unknown key names github's keys", "ci:\n  - name: gh\n    type: github\n    repos: [acme/widgets]\n    auth: {type: bearer, token: SECRET-2}\n    secret: SECRET-3\n", []string{
			`t.yaml:10: ci[0]: unknown key "secret" (known keys: name, type, url, repos, auth, webhook_secret, poll_interval)`,
		}},
		{"a type close to github", "ci:\n  - name: gh\n    type: githbu\n    repos: [acme/widgets]\n    auth: {type: bearer, token: SECRET-4}\n", []string{
			`t.yaml:6: ci[0].type must be one of: buildbot, github, gitlab, jenkins, not "githbu"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := configProblems(t, configBase+tt.ci)
			if got != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			if strings.Contains(got, "SECRET") {
				t.Errorf("a problem quotes a secret:\n%s", got)
			}
		})
	}
}

// A valid github entry becomes its section, ${ENV} secrets resolved, its token and webhook
// secret in the log filter, and a github provider through the table.
func TestGitHubEntry(t *testing.T) {
	raw := configBase + "ci:\n  - name: gh\n    type: github\n    url: https://ghe.example.com/api/v3\n    repos: [acme/widgets, acme/docs]\n" +
		"    auth: {type: bearer, token: \"${GITHUB_TOKEN}\"}\n    webhook_secret: \"${GITHUB_WEBHOOK_SECRET}\"\n    poll_interval: 30s\n"
	cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(map[string]string{"GITHUB_TOKEN": "ghp-tok-1234", "GITHUB_WEBHOOK_SECRET": "hook-5678"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &github.Section{URL: "https://ghe.example.com/api/v3", Repos: []string{"acme/widgets", "acme/docs"},
		Auth: github.AuthSection{Type: "bearer", Token: "ghp-tok-1234"}, WebhookSecret: "hook-5678", PollInterval: 30 * time.Second}
	if !reflect.DeepEqual(cfg.CI[0].Section, want) {
		t.Errorf("section %+v; want %+v", cfg.CI[0].Section, want)
	}
	secrets := map[string]bool{}
	for _, s := range cfg.secrets() {
		secrets[string(s)] = true
	}
	if !secrets["ghp-tok-1234"] || !secrets["hook-5678"] {
		t.Errorf("log filter secrets %q; want the token and the webhook secret", cfg.secrets())
	}
	ps, err := newProviders(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Kind() != "github" || ps[0].Name() != "gh" {
		t.Fatalf("providers %v", ps)
	}
	if _, ok := webhookParsers(ps)["gh"]; !ok {
		t.Errorf("the github connection takes no webhooks")
	}
}
