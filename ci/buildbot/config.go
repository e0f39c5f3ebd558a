package buildbot

import (
	"net/url"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// Section is a Buildbot connection's part of herald's config file: a ci: entry of type
// buildbot, but its name and type, which herald's config reads for every provider. It lives
// here so that the keys, their checks and what they mean to Buildbot are in one place;
// herald's config decodes it strictly and reports Validate's problems at their lines.
type Section struct {
	// URL is the master's web root (its buildbotURL).
	URL  string      `yaml:"url"`
	Auth AuthSection `yaml:"auth"`
	// PollInterval is the longest wait between reconnects and how often the websocket is
	// pinged; zero means 30 s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Tags limit the connection to builders with any of these tags (Buildbot's tags option
	// of its own bot): the others are neither listed nor notified. Empty means every builder.
	Tags []string `yaml:"tags"`
}

// AuthSection is how herald logs in to the master.
type AuthSection struct {
	Type     string `yaml:"type"` // none (or empty) | basic | bearer
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
}

// Validate returns every problem of the section at once. No message quotes a value of auth:
// any of them may be a secret, or a secret put in the wrong place.
func (s *Section) Validate() []ci.ConfigProblem {
	var ps []ci.ConfigProblem
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps = append(ps, ci.ConfigProblem{Key: "url", Msg: "url must be the CI's http(s) URL"})
	} else if u.User != nil {
		// New refuses it too; said here, check-config finds it before a start does.
		ps = append(ps, ci.ConfigProblem{Key: "url", Msg: "url must not hold credentials: put them in auth"})
	}
	for _, t := range s.Tags {
		if strings.TrimSpace(t) == "" {
			ps = append(ps, ci.ConfigProblem{Key: "tags", Msg: "tags must not hold an empty tag"})
			break
		}
	}
	a := s.Auth
	switch a.Type {
	case "", "none":
	case "basic":
		if a.Username == "" || a.Password == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: basic needs username and password"})
		}
	case "bearer":
		if a.Token == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: bearer needs token"})
		}
	default:
		ps = append(ps, ci.ConfigProblem{Key: "auth.type", Msg: "auth.type must be none, basic or bearer"})
	}
	return ps
}

// Secrets are the section's values that must never reach a log.
func (s *Section) Secrets() []string { return []string{s.Auth.Password, s.Auth.Token} }

// Config is the provider's Config for the connection called name.
func (s *Section) Config(name string) Config {
	return Config{
		Name:         name,
		URL:          s.URL,
		PollInterval: s.PollInterval,
		Tags:         s.Tags,
		Auth:         Auth{Kind: s.Auth.Type, Username: s.Auth.Username, Password: s.Auth.Password, Token: s.Auth.Token},
	}
}
