package github_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
)

// testKey is one RSA key for every test of the package (making one takes a while).
var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func keyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey)})
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSectionValidate(t *testing.T) {
	goodKey := writeFile(t, "app.pem", keyPEM())
	notPEM := writeFile(t, "app.txt", []byte("SECRET-not-a-key"))
	ecKey := writeFile(t, "ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("SECRET-garbage")}))
	bearer := github.AuthSection{Type: "bearer", Token: "SECRET-token"}
	tests := []struct {
		name string
		s    github.Section
		want []ci.ConfigProblem
	}{
		{"minimal", github.Section{Repos: []string{"acme/widgets"}, Auth: bearer}, nil},
		{"enterprise with everything", github.Section{URL: "https://ghe.example.com/api/v3", Repos: []string{"acme/widgets", "acme/docs"},
			Auth:          github.AuthSection{Type: "github_app", AppID: 1, InstallationID: 2, PrivateKeyFile: goodKey},
			WebhookSecret: "SECRET-hook", PollInterval: 10 * time.Second}, nil},
		{"everything wrong", github.Section{URL: "ftp://x", Repos: []string{"widgets", "acme/docs", "Acme/Docs", "a/b/c"},
			Auth: github.AuthSection{Type: "basic", Token: "SECRET-token"}, PollInterval: 9 * time.Second}, []ci.ConfigProblem{
			{Key: "url", Msg: "url must be GitHub's REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server"},
			{Key: "repos", Msg: `repos: "widgets" is not owner/name`},
			{Key: "repos", Msg: "repos: Acme/Docs is listed twice"},
			{Key: "repos", Msg: `repos: "a/b/c" is not owner/name`},
			{Key: "auth.type", Msg: "auth.type must be bearer or github_app"},
			{Key: "poll_interval", Msg: "poll_interval must be at least 10s"},
		}},
		{"no repos, no auth", github.Section{}, []ci.ConfigProblem{
			{Key: "repos", Msg: "repos must list at least one repository as owner/name"},
			{Key: "auth", Msg: "auth is required: {type: bearer, token: ...} or {type: github_app, app_id, installation_id, private_key_file}"},
		}},
		{"the web site's url", github.Section{URL: "https://github.com", Repos: []string{"a/b"}, Auth: bearer},
			[]ci.ConfigProblem{{Key: "url", Msg: "url https://github.com is GitHub's web site, not its REST API: use https://api.github.com (or leave url out)"}}},
		{"two repositories of the same name", github.Section{Repos: []string{"acme/widgets", "other/Widgets"}, Auth: bearer},
			[]ci.ConfigProblem{{Key: "repos", Msg: "repos: acme/widgets and other/Widgets have the same name; use two connections"}}},
		{"credentials in the url", github.Section{URL: "https://user:SECRET@ghe.example.com/api/v3", Repos: []string{"a/b"}, Auth: bearer},
			[]ci.ConfigProblem{{Key: "url", Msg: "url must not hold credentials: put them in auth"}}},
		{"bearer without token", github.Section{Repos: []string{"a/b"}, Auth: github.AuthSection{Type: "bearer"}},
			[]ci.ConfigProblem{{Key: "auth", Msg: "auth: bearer needs token"}}},
		{"app without anything", github.Section{Repos: []string{"a/b"}, Auth: github.AuthSection{Type: "github_app", Token: "SECRET-token"}}, []ci.ConfigProblem{
			{Key: "auth", Msg: "auth: github_app needs app_id (a positive number)"},
			{Key: "auth", Msg: "auth: github_app needs installation_id (a positive number)"},
			{Key: "auth", Msg: "auth: github_app needs private_key_file"},
			{Key: "auth.token", Msg: "auth.token is for type bearer; a github_app makes its own tokens"},
		}},
		{"app key missing", github.Section{Repos: []string{"a/b"}, Auth: github.AuthSection{Type: "github_app", AppID: 1, InstallationID: 2, PrivateKeyFile: "/nonexistent/app.pem"}},
			[]ci.ConfigProblem{{Key: "auth.private_key_file", Msg: "auth.private_key_file /nonexistent/app.pem does not exist"}}},
		{"app key not PEM", github.Section{Repos: []string{"a/b"}, Auth: github.AuthSection{Type: "github_app", AppID: 1, InstallationID: 2, PrivateKeyFile: notPEM}},
			[]ci.ConfigProblem{{Key: "auth.private_key_file", Msg: "auth.private_key_file " + notPEM + " is not a PEM file (GitHub's App private keys begin with -----BEGIN RSA PRIVATE KEY-----)"}}},
		{"app key not RSA", github.Section{Repos: []string{"a/b"}, Auth: github.AuthSection{Type: "github_app", AppID: 1, InstallationID: 2, PrivateKeyFile: ecKey}},
			[]ci.ConfigProblem{{Key: "auth.private_key_file", Msg: "auth.private_key_file " + ecKey + " does not hold an RSA private key"}}},
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
	s := github.Section{Repos: []string{"acme/widgets"}, Auth: github.AuthSection{Type: "bearer", Token: "tok"}, WebhookSecret: "hook"}
	if got := s.Secrets(); !reflect.DeepEqual(got, []string{"tok", "hook"}) {
		t.Errorf("secrets %q", got)
	}
	cfg := s.Config("gh")
	if cfg.Name != "gh" || cfg.Auth.Kind != "bearer" || cfg.Auth.Token != "tok" || cfg.WebhookSecret != "hook" || !reflect.DeepEqual(cfg.Repos, s.Repos) {
		t.Errorf("config %+v", cfg)
	}
	p, err := github.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "gh" || p.Kind() != "github" || p.FollowOptions().Poll != github.DefaultPollInterval {
		t.Errorf("provider %s %s polls every %v", p.Name(), p.Kind(), p.FollowOptions().Poll)
	}
}

func TestNewRefuses(t *testing.T) {
	notPEM := writeFile(t, "app.txt", []byte("SECRET-not-a-key"))
	for _, tt := range []struct {
		name string
		cfg  github.Config
		want string
	}{
		{"no name", github.Config{Repos: []string{"a/b"}, Auth: github.Auth{Kind: "bearer", Token: "SECRET"}}, "github: config: name is empty"},
		{"no repos", github.Config{Name: "gh", Auth: github.Auth{Kind: "bearer", Token: "SECRET"}}, "github: config gh: no repository to follow"},
		{"bad repo", github.Config{Name: "gh", Repos: []string{"nope"}, Auth: github.Auth{Kind: "bearer", Token: "SECRET"}}, `github: config gh: github: repository "nope" is not owner/name`},
		{"bad url", github.Config{Name: "gh", URL: "api.github.com", Repos: []string{"a/b"}, Auth: github.Auth{Kind: "bearer", Token: "SECRET"}},
			"github: config gh: url must be GitHub's REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server"},
		{"no token", github.Config{Name: "gh", Repos: []string{"a/b"}, Auth: github.Auth{Kind: "bearer"}}, "github: config gh: bearer auth needs a token"},
		{"same-name repos", github.Config{Name: "gh", Repos: []string{"acme/widgets", "other/widgets"}, Auth: github.Auth{Kind: "bearer", Token: "SECRET"}},
			"github: config gh: repos: acme/widgets and other/widgets have the same name; use two connections"},
		{"the web site", github.Config{Name: "gh", URL: "https://github.com/", Repos: []string{"a/b"}, Auth: github.Auth{Kind: "bearer", Token: "SECRET"}},
			"github: config gh: url https://github.com is GitHub's web site, not its REST API: use https://api.github.com (or leave url out)"},
		{"key not PEM", github.Config{Name: "gh", Repos: []string{"a/b"}, Auth: github.Auth{Kind: "github_app", AppID: 1, InstallationID: 2, PrivateKeyFile: notPEM}},
			"github: config gh: auth.private_key_file " + notPEM + " is not a PEM file (GitHub's App private keys begin with -----BEGIN RSA PRIVATE KEY-----)"},
		{"key bytes not PEM", github.Config{Name: "gh", Repos: []string{"a/b"}, Auth: github.Auth{Kind: "github_app", AppID: 1, InstallationID: 2, PrivateKey: []byte("SECRET")}},
			"github: config gh: the App's private key is not a PEM file (GitHub's App private keys begin with -----BEGIN RSA PRIVATE KEY-----)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := github.New(tt.cfg, zerolog.Nop())
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
