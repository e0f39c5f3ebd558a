package github

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// MinPollInterval is the shortest poll_interval accepted: a connection polls every
// repository once an interval, and GitHub's hourly budget is shared by everything that
// uses the token.
const MinPollInterval = 10 * time.Second

// Section is a GitHub connection's part of herald's config file: a ci: entry of type github,
// but its name and type, which herald's config reads for every provider. Herald's config
// decodes it strictly and reports Validate's problems at their lines.
type Section struct {
	// URL is the REST API's root: https://api.github.com (the default), or
	// https://HOST/api/v3 for GitHub Enterprise Server. It is used as written.
	URL string `yaml:"url"`
	// Repos are the repositories followed, as owner/name; at least one.
	Repos []string    `yaml:"repos"`
	Auth  AuthSection `yaml:"auth"`
	// WebhookSecret signs GitHub's deliveries (X-Hub-Signature-256). It is optional: without
	// it every delivery to /ci/<name>/webhook is answered 401 and herald follows the
	// connection by polling alone, poll_interval late at worst.
	WebhookSecret string `yaml:"webhook_secret"`
	// PollInterval is how often herald lists the runs that changed; zero means 60 s, and
	// less than 10 s is refused.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// AuthSection is how herald authenticates to GitHub: a token (type bearer: a personal
// access token, classic or fine-grained), or a GitHub App's installation (type github_app),
// whose short-lived installation tokens herald makes itself from the App's private key.
type AuthSection struct {
	Type           string `yaml:"type"` // bearer | github_app
	Token          string `yaml:"token"`
	AppID          int64  `yaml:"app_id"`
	InstallationID int64  `yaml:"installation_id"`
	PrivateKeyFile string `yaml:"private_key_file"`
}

// Validate returns every problem of the section at once. No message quotes a token, a
// secret or the private key; a repository or the key file's path is quoted, as neither is
// secret.
func (s *Section) Validate() []ci.ConfigProblem {
	var ps []ci.ConfigProblem
	if s.URL != "" {
		if msg := checkAPIURL(s.URL); msg != "" {
			ps = append(ps, ci.ConfigProblem{Key: "url", Msg: msg})
		}
	}
	if len(s.Repos) == 0 {
		ps = append(ps, ci.ConfigProblem{Key: "repos", Msg: "repos must list at least one repository as owner/name"})
	}
	seen := map[string]bool{}
	for _, r := range s.Repos {
		if _, err := parseRepo(r); err != nil {
			ps = append(ps, ci.ConfigProblem{Key: "repos", Msg: fmt.Sprintf("repos: %q is not owner/name", ci.CleanText(r))})
			continue
		}
		if k := strings.ToLower(r); seen[k] {
			ps = append(ps, ci.ConfigProblem{Key: "repos", Msg: fmt.Sprintf("repos: %s is listed twice", r)})
		} else {
			seen[k] = true
		}
	}
	if msg := sameName(s.Repos); msg != "" {
		ps = append(ps, ci.ConfigProblem{Key: "repos", Msg: msg})
	}
	ps = append(ps, s.Auth.validate()...)
	if s.PollInterval != 0 && s.PollInterval < MinPollInterval {
		ps = append(ps, ci.ConfigProblem{Key: "poll_interval", Msg: "poll_interval must be at least 10s"})
	}
	return ps
}

func (a *AuthSection) validate() []ci.ConfigProblem {
	var ps []ci.ConfigProblem
	switch a.Type {
	case "bearer":
		if a.Token == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: bearer needs token"})
		}
	case "github_app":
		if a.AppID <= 0 {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: github_app needs app_id (a positive number)"})
		}
		if a.InstallationID <= 0 {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: github_app needs installation_id (a positive number)"})
		}
		if a.PrivateKeyFile == "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth: github_app needs private_key_file"})
		} else if _, err := readPrivateKey(a.PrivateKeyFile); err != nil {
			ps = append(ps, ci.ConfigProblem{Key: "auth.private_key_file", Msg: "auth." + err.Error()})
		}
		if a.Token != "" {
			ps = append(ps, ci.ConfigProblem{Key: "auth.token", Msg: "auth.token is for type bearer; a github_app makes its own tokens"})
		}
	case "":
		ps = append(ps, ci.ConfigProblem{Key: "auth", Msg: "auth is required: {type: bearer, token: ...} or {type: github_app, app_id, installation_id, private_key_file}"})
	default:
		ps = append(ps, ci.ConfigProblem{Key: "auth.type", Msg: "auth.type must be bearer or github_app"})
	}
	return ps
}

// checkAPIURL says what is wrong with an API root, or "" when nothing is.
func checkAPIURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "url must be GitHub's REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server"
	case u.User != nil:
		return "url must not hold credentials: put them in auth"
	case u.RawQuery != "" || u.Fragment != "":
		return "url must not have a query or a fragment"
	case strings.EqualFold(u.Hostname(), "github.com") || strings.EqualFold(u.Hostname(), "www.github.com"):
		return "url " + u.Scheme + "://" + u.Host + " is GitHub's web site, not its REST API: use https://api.github.com (or leave url out)"
	}
	return ""
}

// lacksAPIPath says whether an API root looks like an Enterprise Server's host without its
// /api/v3 (an https URL of a named host other than api.github.com, with no path): every
// call would answer 404. It may be right (a proxy), so it is only a warning; a local or
// plain-http root (a test server, the demo) is not warned of.
func lacksAPIPath(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || strings.EqualFold(u.Hostname(), "api.github.com") ||
		strings.EqualFold(u.Hostname(), "localhost") || net.ParseIP(u.Hostname()) != nil {
		return false
	}
	return strings.Trim(u.Path, "/") == ""
}

// parseRepo reads owner/name.
func parseRepo(s string) (repoRef, error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/ ") || strings.ContainsAny(owner, " ") ||
		ci.CleanText(s) != s || strings.ContainsAny(s, "?#%\\") {
		return repoRef{}, fmt.Errorf("github: repository %q is not owner/name", ci.CleanText(s))
	}
	return repoRef{Owner: owner, Name: name}, nil
}

// sameName says which two repositories have the same name but different owners, or "":
// a connection's builders are named "<repository>/<workflow>", so they would share
// builders. Repositories listed twice are another problem.
func sameName(repos []string) string {
	byName := map[string]string{}
	for _, r := range repos {
		ref, err := parseRepo(r)
		if err != nil {
			continue
		}
		k := strings.ToLower(ref.Name)
		if first, ok := byName[k]; ok && !strings.EqualFold(first, r) {
			return fmt.Sprintf("repos: %s and %s have the same name; use two connections", first, r)
		}
		if _, ok := byName[k]; !ok {
			byName[k] = r
		}
	}
	return ""
}

// readPrivateKey reads a GitHub App's private key file and checks that it is a PEM RSA
// private key (GitHub issues PKCS#1; PKCS#8 is taken too). Its errors name the file, never
// what is in it, and read "private_key_file ...".
func readPrivateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("private_key_file %s does not exist", path)
		}
		return nil, fmt.Errorf("private_key_file %s cannot be read: %v", path, unwrapPathErr(err))
	}
	if err := checkPrivateKey(b); err != nil {
		return nil, fmt.Errorf("private_key_file %s %s", path, err)
	}
	return b, nil
}

// checkPrivateKey says in words why b is not a PEM RSA private key.
func checkPrivateKey(b []byte) error {
	block, _ := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("is not a PEM file (GitHub's App private keys begin with -----BEGIN RSA PRIVATE KEY-----)")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, isRSA := k.(*rsa.PrivateKey); isRSA {
			return nil
		}
	}
	return fmt.Errorf("does not hold an RSA private key")
}

// unwrapPathErr is a *os.PathError's cause alone: the path is named by the caller already.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Secrets are the section's values that must never reach a log. The private key never
// leaves New, so it is not among them.
func (s *Section) Secrets() []string { return []string{s.Auth.Token, s.WebhookSecret} }

// Config is the provider's Config for the connection called name.
func (s *Section) Config(name string) Config {
	return Config{
		Name:          name,
		URL:           s.URL,
		Repos:         append([]string(nil), s.Repos...),
		WebhookSecret: s.WebhookSecret,
		PollInterval:  s.PollInterval,
		Auth: Auth{
			Kind: s.Auth.Type, Token: s.Auth.Token,
			AppID: s.Auth.AppID, InstallationID: s.Auth.InstallationID, PrivateKeyFile: s.Auth.PrivateKeyFile,
		},
	}
}
