package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testEnv(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// The messages are compared verbatim: they are what an admin reads when herald will not start.
func TestLoadConfigProblems(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"misspelt", []string{
			`testdata/config/misspelt.yaml:3: telegram: unknown key "tokn" (known keys: token, api_url, username, mode, poll_timeout, webhook, limits)`,
			`testdata/config/misspelt.yaml:6: top level: unknown key "htp" (known keys: telegram, database, http, log, ci, authz, chats, notifications, source)`,
		}},
		{"wrong_type", []string{
			`testdata/config/wrong_type.yaml:3: telegram.poll_timeout: "soon" is not a duration (use e.g. 30s, 5m)`,
			`testdata/config/wrong_type.yaml:5: telegram.limits.global: "many" is not a number`,
			`testdata/config/wrong_type.yaml:6: database: expected a mapping of keys, got "postgres://herald@localhost/herald"`,
			`testdata/config/wrong_type.yaml:6: database.url is required (or set DATABASE_URL)`,
			`testdata/config/wrong_type.yaml:8: ci: expected a list, got a mapping`,
		}},
		{"no_token", []string{
			`testdata/config/no_token.yaml:2: telegram.token is required (or set TELEGRAM_BOT_TOKEN)`,
			`testdata/config/no_token.yaml:4: telegram.webhook.secret_token is required in webhook mode: 1-256 characters A-Z, a-z, 0-9, _ and -`,
			`testdata/config/no_token.yaml:6: database.url: environment variable HERALD_TEST_UNSET_VARIABLE is not set`,
			`testdata/config/no_token.yaml:6: database.url is required (or set DATABASE_URL)`,
		}},
		{"bad_authz", []string{
			`testdata/config/bad_authz.yaml:12: authz: unknown command "forse"`,
			`testdata/config/bad_authz.yaml:14: authz: unknown group "@releese"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadConfig("testdata/config/"+tt.file+".yaml", testEnv(nil))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig error = %v; want a *ConfigError", err)
			}
			if got := strings.Join(ce.Problems, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoadConfigValidWithEnv(t *testing.T) {
	const token = "42:secret-token_value"
	cfg, err := LoadConfig("testdata/config/valid.yaml", testEnv(map[string]string{
		"HERALD_TEST_TOKEN": token,
		"DATABASE_URL":      "postgres://other@db/herald",
		"TELEGRAM_API_URL":  "http://127.0.0.1:9999",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Telegram.Token != token {
		t.Errorf("token not expanded from ${HERALD_TEST_TOKEN}")
	}
	if cfg.Database.URL != "postgres://other@db/herald" || cfg.Telegram.APIURL != "http://127.0.0.1:9999" {
		t.Errorf("environment did not override: db %q api %q", cfg.Database.URL, cfg.Telegram.APIURL)
	}
	if cfg.Telegram.Mode != "polling" || cfg.Telegram.PollTimeout != 30*time.Second {
		t.Errorf("defaults not applied: %+v", cfg.Telegram)
	}
	if len(cfg.CI) != 1 || cfg.CI[0].Name != "main" || len(cfg.Chats) != 1 || cfg.Chats[0].ID != -1001234567 {
		t.Errorf("ci/chats not decoded: %+v %+v", cfg.CI, cfg.Chats)
	}
	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Decide(123456, "force", "pass").Allowed || m.Decide(789012, "force", "pass").Allowed {
		t.Errorf("authz from config not applied")
	}
}

func TestConfigErrorsNeverShowTheToken(t *testing.T) {
	const token = "this is no token"
	raw := []byte("telegram:\n  token: \"" + token + "\"\ndatabase:\n  url: postgres://x@y/z\n")
	_, err := parseConfig("t.yaml", raw, testEnv(nil))
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v; want an error that does not quote the token", err)
	}
}

func TestYAMLSyntaxErrorHasLine(t *testing.T) {
	_, err := parseConfig("t.yaml", []byte("telegram:\n  token: [\n"), testEnv(nil))
	if err == nil || !strings.HasPrefix(err.Error(), "t.yaml:") {
		t.Fatalf("err = %v; want t.yaml:LINE: ...", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("telegram:\n  token: 1:a\n"))
	f.Add([]byte("ci:\n  - name: a\n    auth: {type: basic}\n"))
	f.Add([]byte("authz:\n  rules:\n    - commands: force\n      allow: [1, '@x']\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := parseConfig("f.yaml", raw, testEnv(nil))
		if (cfg == nil) == (err == nil) {
			t.Fatalf("parseConfig returned cfg=%v err=%v; want exactly one", cfg, err)
		}
	})
}
