package gitlab

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// MinPollInterval is the shortest poll_interval accepted: every poll costs a request or
// more per project, and GitLab's rate limit is shared by everything that uses the token.
const MinPollInterval = 10 * time.Second

// Section is a GitLab connection's part of herald's config file: a ci: entry of type gitlab,
// but its name and type, which herald's config reads for every provider. Herald's config
// decodes it strictly and reports Validate's problems at their lines.
type Section struct {
	// URL is the GitLab instance, e.g. https://gitlab.example.com; empty means
	// https://gitlab.com. The REST API is under /api/v4 of it.
	URL string `yaml:"url"`
	// Projects are the projects followed by their full paths (group/app, group/sub/lib);
	// at least one.
	Projects []string    `yaml:"projects"`
	Auth     AuthSection `yaml:"auth"`
	// WebhookSecret is the webhook's secret token, which GitLab sends as X-Gitlab-Token. It
	// is optional: without it every delivery to /ci/<name>/webhook is answered 401 and herald
	// follows the connection by polling alone, poll_interval late at worst.
	WebhookSecret string `yaml:"webhook_secret"`
	// PollInterval is how often herald lists the pipelines that changed; zero means 60 s,
	// and less than 10 s is refused.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// AuthSection is how herald authenticates to GitLab: type bearer with a personal, group or
// project access token. Header says how the token is sent: private_token (the default,
// GitLab's PRIVATE-TOKEN header) or authorization (Authorization: Bearer, which an OAuth
// token needs).
type AuthSection struct {
	Type   string `yaml:"type"` // bearer
	Token  string `yaml:"token"`
	Header string `yaml:"header"` // private_token | authorization; empty means private_token
}

// Validate returns every problem of the section at once. No message quotes the token or the
// webhook secret; a project path is quoted, as it is not secret.
func (s *Section) Validate() []ci.ConfigProblem {
	var ps []ci.ConfigProblem
	if s.URL != "" {
		if msg := checkURL(s.URL); msg != "" {
			ps = append(ps, ci.ConfigProblem{Key: "url", Msg: msg})
		}
	}
	if len(s.Projects) == 0 {
		ps = append(ps, ci.ConfigProblem{Key: "projects", Msg: "projects must list at least one project by its full path, e.g. group/app"})
	}
	seen := map[string]bool{}
	for _, pr := range s.Projects {
		if !validProject(pr) {
			ps = append(ps, ci.ConfigProblem{Key: "projects", Msg: fmt.Sprintf("projects: %q is not a project's full path (group/app)", ci.CleanText(pr))})
			continue
		}
		if k := strings.ToLower(pr); seen[k] {
			ps = append(ps, ci.ConfigProblem{Key: "projects", Msg: fmt.Sprintf("projects: %s is listed twice", pr)})
		} else {
			seen[k] = true
		}
	}
	switch s.Auth.Type {
	case "bearer":
		if s.Auth.Token == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: bearer needs token"})
		}
		if h := s.Auth.Header; h != "" && h != HeaderPrivateToken && h != HeaderAuthorization {
			ps = append(ps, ci.ConfigProblem{Key: "auth.header", Msg: "auth.header must be private_token or authorization"})
		}
	case "":
		ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth is required: {type: bearer, token: ...}"})
	default:
		ps = append(ps, ci.ConfigProblem{Key: "auth.type", Msg: "auth.type must be bearer"})
	}
	if s.PollInterval != 0 && s.PollInterval < MinPollInterval {
		ps = append(ps, ci.ConfigProblem{Key: "poll_interval", Msg: "poll_interval must be at least 10s"})
	}
	return ps
}

// checkURL says what is wrong with an instance URL, or "" when nothing is.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "url must be the GitLab instance's http(s) URL, e.g. https://gitlab.example.com"
	case u.User != nil:
		return "url must not hold credentials: put them in auth"
	case u.RawQuery != "" || u.Fragment != "":
		return "url must not have a query or a fragment"
	case strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v4"):
		return "url must be the instance's URL without /api/v4 (herald adds it), e.g. https://gitlab.example.com"
	}
	return ""
}

// validProject says whether s is a project's full path: two or more non-empty segments
// (groups and subgroups, then the project) of the characters GitLab allows in a path.
func validProject(s string) bool {
	segs := strings.Split(s, "/")
	if len(segs) < 2 {
		return false
	}
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for _, r := range seg {
			ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
			if !ok {
				return false
			}
		}
	}
	return true
}

// Secrets are the section's values that must never reach a log.
func (s *Section) Secrets() []string { return []string{s.Auth.Token, s.WebhookSecret} }

// Config is the provider's Config for the connection called name.
func (s *Section) Config(name string) Config {
	return Config{
		Name:          name,
		URL:           s.URL,
		Projects:      append([]string(nil), s.Projects...),
		Token:         s.Auth.Token,
		TokenHeader:   s.Auth.Header,
		WebhookSecret: s.WebhookSecret,
		PollInterval:  s.PollInterval,
	}
}
