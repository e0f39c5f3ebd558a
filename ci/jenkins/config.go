package jenkins

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/glob"
)

// MinPollInterval is the shortest poll_interval accepted: each poll is one request, but one
// that makes Jenkins walk every followed job.
const MinPollInterval = 5 * time.Second

// Section is a Jenkins connection's part of herald's config file: a ci: entry of type
// jenkins, but its name and type, which herald's config reads for every provider. Herald's
// config decodes it strictly and reports Validate's problems at their lines.
type Section struct {
	// URL is Jenkins' root, as its own "Jenkins URL" setting has it:
	// https://jenkins.example.com/ or https://example.com/jenkins/.
	URL  string      `yaml:"url"`
	Auth AuthSection `yaml:"auth"`
	// Jobs are globs (ci/glob) over full job names, folders joined with /: "app/*",
	// "release". Empty follows every job.
	Jobs []string `yaml:"jobs"`
	// PollInterval is how often herald reads the jobs; zero means 15 s, less than 5 s is
	// refused.
	PollInterval time.Duration `yaml:"poll_interval"`
	// WebhookSecret is the password of the Notification plugin's endpoint URL
	// (https://herald:SECRET@herald.example.com/ci/<name>/webhook), which the plugin sends
	// as Basic authorization. Optional: without it every post is answered 401 and herald
	// follows Jenkins by polling alone.
	WebhookSecret string `yaml:"webhook_secret"`
}

// AuthSection is how herald authenticates to Jenkins: type basic with a user and one of its
// API tokens (a password works too, but a token is not the user's login and can be revoked
// alone), or type none for a Jenkins that lets anonymous users read and build.
type AuthSection struct {
	Type     string `yaml:"type"` // basic | none
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Validate returns every problem of the section at once. No message quotes the password or
// the webhook secret.
func (s *Section) Validate() []ci.ConfigProblem {
	var ps []ci.ConfigProblem
	if msg := checkRootURL(s.URL); msg != "" {
		ps = append(ps, ci.ConfigProblem{Key: "url", Msg: msg})
	}
	switch s.Auth.Type {
	case "basic":
		if s.Auth.Username == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: basic needs username"})
		}
		if s.Auth.Password == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: basic needs password (an API token of the user)"})
		}
	case "none":
		if s.Auth.Username != "" || s.Auth.Password != "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: none takes no username or password"})
		}
	case "":
		ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth is required: {type: basic, username: ..., password: ...} or {type: none}"})
	default:
		ps = append(ps, ci.ConfigProblem{Key: "auth.type", Msg: "auth.type must be basic or none"})
	}
	seen := map[string]bool{}
	for _, j := range s.Jobs {
		switch err := glob.Validate(j); {
		case j == "":
			ps = append(ps, ci.ConfigProblem{Key: "jobs", Msg: "jobs: an empty pattern matches no job"})
		case err != nil:
			msg := err.Error()
			if ge := (*glob.Error)(nil); errors.As(err, &ge) {
				msg = ge.Problem
			}
			ps = append(ps, ci.ConfigProblem{Key: "jobs", Msg: fmt.Sprintf("jobs: %q: %s", ci.CleanText(j), msg)})
		case seen[j]:
			ps = append(ps, ci.ConfigProblem{Key: "jobs", Msg: fmt.Sprintf("jobs: %q is listed twice", ci.CleanText(j))})
		}
		seen[j] = true
	}
	if s.PollInterval != 0 && s.PollInterval < MinPollInterval {
		ps = append(ps, ci.ConfigProblem{Key: "poll_interval", Msg: "poll_interval must be at least 5s"})
	}
	return ps
}

// checkRootURL says what is wrong with a Jenkins root, or "" when nothing is.
func checkRootURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "url is required: Jenkins' root, e.g. https://jenkins.example.com/"
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "url must be Jenkins' root as an http(s) URL, e.g. https://jenkins.example.com/"
	case u.User != nil:
		return "url must not hold credentials: put them in auth"
	case u.RawQuery != "" || u.Fragment != "":
		return "url must not have a query or a fragment"
	}
	return ""
}

// Secrets are the section's values that must never reach a log.
func (s *Section) Secrets() []string { return []string{s.Auth.Password, s.WebhookSecret} }

// Config is the provider's Config for the connection called name.
func (s *Section) Config(name string) Config {
	return Config{
		Name:          name,
		URL:           s.URL,
		Auth:          Auth{Kind: s.Auth.Type, Username: s.Auth.Username, Password: s.Auth.Password},
		Jobs:          append([]string(nil), s.Jobs...),
		PollInterval:  s.PollInterval,
		WebhookSecret: s.WebhookSecret,
	}
}
