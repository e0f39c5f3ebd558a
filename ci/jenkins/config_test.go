package jenkins_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
)

func TestSectionValidate(t *testing.T) {
	basicAuth := jenkins.AuthSection{Type: "basic", Username: "herald", Password: "SECRET-token"}
	tests := []struct {
		name string
		s    jenkins.Section
		want []ci.ConfigProblem
	}{
		{"minimal", jenkins.Section{URL: "https://jenkins.example.com/", Auth: basicAuth}, nil},
		{"everything", jenkins.Section{URL: "http://example.com/jenkins", Auth: basicAuth, Jobs: []string{"app/*", "release"},
			PollInterval: 5 * time.Second, WebhookSecret: "SECRET-hook"}, nil},
		{"anonymous", jenkins.Section{URL: "https://jenkins.example.com/", Auth: jenkins.AuthSection{Type: "none"}}, nil},
		{"nothing", jenkins.Section{}, []ci.ConfigProblem{
			{Key: "url", Msg: "url is required: Jenkins' root, e.g. https://jenkins.example.com/"},
			{Key: "auth", Msg: "auth is required: {type: basic, username: ..., password: ...} or {type: none}"},
		}},
		{"everything wrong", jenkins.Section{URL: "jenkins.example.com", Auth: jenkins.AuthSection{Type: "bearer", Password: "SECRET-token"},
			Jobs: []string{"app/[", "", "release", "release"}, PollInterval: 4 * time.Second}, []ci.ConfigProblem{
			{Key: "url", Msg: "url must be Jenkins' root as an http(s) URL, e.g. https://jenkins.example.com/"},
			{Key: "auth.type", Msg: "auth.type must be basic or none"},
			{Key: "jobs", Msg: `jobs: "app/[": a [ is never closed with ]`},
			{Key: "jobs", Msg: "jobs: an empty pattern matches no job"},
			{Key: "jobs", Msg: `jobs: "release" is listed twice`},
			{Key: "poll_interval", Msg: "poll_interval must be at least 5s"},
		}},
		{"basic without anything", jenkins.Section{URL: "https://j.example.com/", Auth: jenkins.AuthSection{Type: "basic"}}, []ci.ConfigProblem{
			{Key: "auth", Msg: "auth: basic needs username"},
			{Key: "auth", Msg: "auth: basic needs password (an API token of the user)"},
		}},
		{"none with a password", jenkins.Section{URL: "https://j.example.com/", Auth: jenkins.AuthSection{Type: "none", Password: "SECRET"}},
			[]ci.ConfigProblem{{Key: "auth", Msg: "auth: none takes no username or password"}}},
		{"credentials in the url", jenkins.Section{URL: "https://herald:SECRET@j.example.com/", Auth: basicAuth},
			[]ci.ConfigProblem{{Key: "url", Msg: "url must not hold credentials: put them in auth"}}},
		{"query", jenkins.Section{URL: "https://j.example.com/?x=1", Auth: basicAuth},
			[]ci.ConfigProblem{{Key: "url", Msg: "url must not have a query or a fragment"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Validate()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got %q\nwant %q", got, tt.want)
			}
			for _, p := range got {
				if strings.Contains(p.Msg, "SECRET") {
					t.Errorf("problem %q quotes a secret", p.Msg)
				}
			}
		})
	}
}

func TestSectionSecretsAndConfig(t *testing.T) {
	s := jenkins.Section{URL: "https://j.example.com", Auth: jenkins.AuthSection{Type: "basic", Username: "herald", Password: "tok"},
		Jobs: []string{"app/*"}, WebhookSecret: "hook"}
	if got := s.Secrets(); !reflect.DeepEqual(got, []string{"tok", "hook"}) {
		t.Errorf("secrets %q", got)
	}
	cfg := s.Config("jk")
	want := jenkins.Config{Name: "jk", URL: "https://j.example.com", Auth: jenkins.Auth{Kind: "basic", Username: "herald", Password: "tok"},
		Jobs: []string{"app/*"}, WebhookSecret: "hook"}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config %+v", cfg)
	}
	p, err := jenkins.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "jk" || p.Kind() != "jenkins" || p.FollowOptions().Poll != jenkins.DefaultPollInterval {
		t.Errorf("provider %s %s polls every %v", p.Name(), p.Kind(), p.FollowOptions().Poll)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  jenkins.Config
		want string
	}{
		{"no name", jenkins.Config{URL: "https://j/", Auth: jenkins.Auth{Kind: "none"}}, "jenkins: config: name is empty"},
		{"bad url", jenkins.Config{Name: "jk", URL: "j.example.com", Auth: jenkins.Auth{Kind: "none"}},
			"jenkins: config jk: url must be Jenkins' root as an http(s) URL, e.g. https://jenkins.example.com/"},
		{"no password", jenkins.Config{Name: "jk", URL: "https://j/", Auth: jenkins.Auth{Kind: "basic", Username: "herald"}},
			"jenkins: config jk: basic auth needs a username and a password"},
		{"bad kind", jenkins.Config{Name: "jk", URL: "https://j/", Auth: jenkins.Auth{Kind: "token", Password: "SECRET"}},
			`jenkins: config jk: auth kind "token" is not basic or none`},
		{"bad glob", jenkins.Config{Name: "jk", URL: "https://j/", Auth: jenkins.Auth{Kind: "none"}, Jobs: []string{"a\\"}},
			`jenkins: config jk: jobs: glob: bad pattern "a\\": it ends with a lone \ (write \\ for a backslash)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jenkins.New(tt.cfg, zerolog.Nop())
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
