package gitlab_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
)

func TestSectionValidate(t *testing.T) {
	good := func() gitlab.Section {
		return gitlab.Section{
			URL: "https://gitlab.example.com", Projects: []string{"acme/app", "acme/sub/lib"},
			Auth: gitlab.AuthSection{Type: "bearer", Token: "glpat-secret-token"}, WebhookSecret: "hook-secret",
		}
	}
	tests := []struct {
		name   string
		change func(s *gitlab.Section)
		want   []ci.ConfigProblem
	}{
		{"good", func(*gitlab.Section) {}, nil},
		{"url may be left out", func(s *gitlab.Section) { s.URL = "" }, nil},
		{"authorization header", func(s *gitlab.Section) { s.Auth.Header = "authorization" }, nil},
		{"url not http", func(s *gitlab.Section) { s.URL = "gitlab.example.com" },
			[]ci.ConfigProblem{{Key: "url", Msg: "url must be the GitLab instance's http(s) URL, e.g. https://gitlab.example.com"}}},
		{"url with credentials", func(s *gitlab.Section) { s.URL = "https://me:pw@gitlab.example.com" },
			[]ci.ConfigProblem{{Key: "url", Msg: "url must not hold credentials: put them in auth"}}},
		{"url with a query", func(s *gitlab.Section) { s.URL = "https://gitlab.example.com/?x=1" },
			[]ci.ConfigProblem{{Key: "url", Msg: "url must not have a query or a fragment"}}},
		{"url of the API", func(s *gitlab.Section) { s.URL = "https://gitlab.example.com/gitlab/api/v4/" },
			[]ci.ConfigProblem{{Key: "url", Msg: "url must be the instance's URL without /api/v4 (herald adds it), e.g. https://gitlab.example.com"}}},
		{"url under a path", func(s *gitlab.Section) { s.URL = "https://example.com/gitlab" }, nil},
		{"no projects", func(s *gitlab.Section) { s.Projects = nil },
			[]ci.ConfigProblem{{Key: "projects", Msg: "projects must list at least one project by its full path, e.g. group/app"}}},
		{"project without a group, one with a space, a duplicate", func(s *gitlab.Section) {
			s.Projects = []string{"app", "acme/my app", "acme/app", "Acme/App", "acme//x"}
		}, []ci.ConfigProblem{
			{Key: "projects", Msg: `projects: "app" is not a project's full path (group/app)`},
			{Key: "projects", Msg: `projects: "acme/my app" is not a project's full path (group/app)`},
			{Key: "projects", Msg: "projects: Acme/App is listed twice"},
			{Key: "projects", Msg: `projects: "acme//x" is not a project's full path (group/app)`},
		}},
		{"no auth", func(s *gitlab.Section) { s.Auth = gitlab.AuthSection{} },
			[]ci.ConfigProblem{{Key: "auth", Msg: "auth is required: {type: bearer, token: ...}"}}},
		{"bearer without a token", func(s *gitlab.Section) { s.Auth.Token = "" },
			[]ci.ConfigProblem{{Key: "auth", Msg: "auth: bearer needs token"}}},
		{"other auth type", func(s *gitlab.Section) { s.Auth.Type = "basic" },
			[]ci.ConfigProblem{{Key: "auth.type", Msg: "auth.type must be bearer"}}},
		{"bad header", func(s *gitlab.Section) { s.Auth.Header = "cookie" },
			[]ci.ConfigProblem{{Key: "auth.header", Msg: "auth.header must be private_token or authorization"}}},
		{"poll too often", func(s *gitlab.Section) { s.PollInterval = 5 * time.Second },
			[]ci.ConfigProblem{{Key: "poll_interval", Msg: "poll_interval must be at least 10s"}}},
		{"everything at once", func(s *gitlab.Section) {
			*s = gitlab.Section{URL: "ftp://x", PollInterval: time.Second}
		}, []ci.ConfigProblem{
			{Key: "url", Msg: "url must be the GitLab instance's http(s) URL, e.g. https://gitlab.example.com"},
			{Key: "projects", Msg: "projects must list at least one project by its full path, e.g. group/app"},
			{Key: "auth", Msg: "auth is required: {type: bearer, token: ...}"},
			{Key: "poll_interval", Msg: "poll_interval must be at least 10s"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.change(&s)
			got := s.Validate()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got %q\nwant %q", got, tt.want)
			}
			for _, p := range got {
				if strings.Contains(p.Msg, "glpat-secret-token") || strings.Contains(p.Msg, "hook-secret") {
					t.Errorf("problem quotes a secret: %q", p.Msg)
				}
			}
		})
	}
}

func TestSectionSecretsAndConfig(t *testing.T) {
	s := gitlab.Section{Projects: []string{"acme/app"}, Auth: gitlab.AuthSection{Type: "bearer", Token: "tok", Header: "authorization"},
		WebhookSecret: "hook", PollInterval: 30 * time.Second}
	if got := s.Secrets(); !reflect.DeepEqual(got, []string{"tok", "hook"}) {
		t.Errorf("secrets %q", got)
	}
	want := gitlab.Config{Name: "gl", Projects: []string{"acme/app"}, Token: "tok", TokenHeader: "authorization",
		WebhookSecret: "hook", PollInterval: 30 * time.Second}
	if got := s.Config("gl"); !reflect.DeepEqual(got, want) {
		t.Errorf("config\n got %+v\nwant %+v", got, want)
	}
}

func TestNewRefusesWhatValidateRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  gitlab.Config
		want string
	}{
		{"no name", gitlab.Config{Projects: []string{"a/b"}, Token: "t"}, "gitlab: config: name is empty"},
		{"bad url", gitlab.Config{Name: "gl", URL: "x", Projects: []string{"a/b"}, Token: "t"},
			"gitlab: config gl: url must be the GitLab instance's http(s) URL, e.g. https://gitlab.example.com"},
		{"no project", gitlab.Config{Name: "gl", Token: "t"}, "gitlab: config gl: no project to follow"},
		{"bad project", gitlab.Config{Name: "gl", Projects: []string{"app"}, Token: "t"}, `gitlab: config gl: "app" is not a project's full path`},
		{"no token", gitlab.Config{Name: "gl", Projects: []string{"a/b"}}, "gitlab: config gl: bearer auth needs a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gitlab.New(tt.cfg, zerolog.Nop())
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
