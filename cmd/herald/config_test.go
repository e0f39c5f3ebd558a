package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot"
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
			`testdata/config/misspelt.yaml:3: telegram: unknown key "tokn" (known keys: token, api_url, username, mode, poll_timeout, webhook, limits, command_limits)`,
			`testdata/config/misspelt.yaml:6: top level: unknown key "htp" (known keys: telegram, database, http, log, ci, authz, chats, notifications, hooks, relay, people, actions, forward, source)`,
		}},
		{"wrong_type", []string{
			// Values under telegram and database are never quoted: they may be secrets.
			`testdata/config/wrong_type.yaml:3: telegram.poll_timeout: the value is not a duration (use e.g. 30s, 5m)`,
			`testdata/config/wrong_type.yaml:5: telegram.limits.global: the value is not a number`,
			`testdata/config/wrong_type.yaml:6: database: expected a mapping of keys, got a single value`,
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
		{"bad_http", []string{
			`testdata/config/bad_http.yaml:6: http.metrics_listen must differ from http.listen; leave it out to serve /metrics on http.listen`,
		}},
		// Each problem of a command limit at the line of its own value.
		{"bad_command_limits", []string{
			`testdata/config/bad_command_limits.yaml:5: telegram.command_limits.per_user.burst must be 0 (no limit) or more`,
			`testdata/config/bad_command_limits.yaml:9: telegram.command_limits.per_chat.every must be more than 0 while burst is above 0 (burst: 0 turns the limit off)`,
			`testdata/config/bad_command_limits.yaml:10: telegram.command_limits.per_chat: unknown key "rate" (known keys: burst, every)`,
		}},
		// A bad glob is reported at its own line, not left to match nothing.
		{"bad_chat_patterns", []string{
			`testdata/config/bad_chat_patterns.yaml:9: chats[0].builders: bad pattern "x[": a [ is never closed with ]`,
			`testdata/config/bad_chat_patterns.yaml:10: chats[0].branches: bad pattern "release-]": a ] has no [ before it (write \] for the character)`,
			`testdata/config/bad_chat_patterns.yaml:12: chats[1].builders: bad pattern "docs\\": it ends with a lone \ (write \\ for a backslash)`,
			`testdata/config/bad_chat_patterns.yaml:15: chats[1].branches: bad pattern "[]": [] is an empty class (write \[\] for the two characters)`,
		}},
		// Telegram's placeholder senders name nobody, and the same one everywhere.
		{"placeholder_ids", []string{
			`testdata/config/placeholder_ids.yaml:10: authz: 1087968824 is Telegram's stand-in for every anonymous group admin (GroupAnonymousBot), the same in every group: it would let any anonymous admin of any group act. Name the admins by their own ids (/getid while not posting anonymously)`,
			`testdata/config/placeholder_ids.yaml:13: authz: 136817688 is Telegram's stand-in for everyone who posts as a channel (Channel_Bot): it names no person. Name people by their own ids (/getid from their own account)`,
			`testdata/config/placeholder_ids.yaml:15: authz: 777000 is Telegram's service account that forwards channel posts into linked groups: it names no person. Name people by their own ids (/getid from their own account)`,
		}},
		// Secrets in the wrong place are named by their key, never shown.
		{"secrets_misplaced", []string{
			`testdata/config/secrets_misplaced.yaml:2: telegram.mode must be polling or webhook`,
			`testdata/config/secrets_misplaced.yaml:4: telegram.poll_timeout: the value is not a duration (use e.g. 30s, 5m)`,
			`testdata/config/secrets_misplaced.yaml:6: telegram.limits.global: the value is not a number`,
			`testdata/config/secrets_misplaced.yaml:7: telegram.webhook: expected a mapping of keys, got a single value`,
			`testdata/config/secrets_misplaced.yaml:8: database: expected a mapping of keys, got a single value`,
			`testdata/config/secrets_misplaced.yaml:8: database.url is required (or set DATABASE_URL)`,
			`testdata/config/secrets_misplaced.yaml:13: ci[0].auth.username: expected a string, got a list`,
			`testdata/config/secrets_misplaced.yaml:13: ci[0].auth.password: expected a string, got a mapping`,
			`testdata/config/secrets_misplaced.yaml:13: ci[0].auth.type must be none, basic or bearer`,
			`testdata/config/secrets_misplaced.yaml:17: ci[1].auth: expected a mapping of keys, got a single value`,
			`testdata/config/secrets_misplaced.yaml:18: ci[2]: expected a mapping of keys, got a single value`,
			`testdata/config/secrets_misplaced.yaml:18: ci[2].name must be a short lower-case name like main or nightly`,
			`testdata/config/secrets_misplaced.yaml:18: ci[2].type must be one of: buildbot, github, gitlab, jenkins, not ""`,
			`testdata/config/secrets_misplaced.yaml:18: ci[2].url must be the CI's http(s) URL`,
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

// The command limits reach the intake as written. burst: 0 must become the intake's "off"
// (a negative Burst), not its "take the default" (a zero one).
func TestConfigIntakeOptions(t *testing.T) {
	tests := []struct {
		name       string
		limits     string
		user, chat bot.RateLimit
	}{
		{"left out", "", bot.DefaultUserRate, bot.DefaultChatRate},
		{"set", "  command_limits:\n    per_user: {burst: 3, every: 1m}\n    per_chat:\n      burst: 40\n",
			bot.RateLimit{Burst: 3, Every: time.Minute}, bot.RateLimit{Burst: 40, Every: bot.DefaultChatRate.Every}},
		{"off", "  command_limits:\n    per_user: {burst: 0}\n    per_chat: {burst: 0, every: 0s}\n",
			bot.RateLimit{Burst: -1}, bot.RateLimit{Burst: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "telegram:\n  token: 1:a\n" + tt.limits + "database:\n  url: postgres://x@y/z\n"
			cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
			if err != nil {
				t.Fatal(err)
			}
			opts := cfg.IntakeOptions()
			if opts.UserRate != tt.user || opts.ChatRate != tt.chat {
				t.Errorf("IntakeOptions() rates = %+v, %+v; want %+v, %+v", opts.UserRate, opts.ChatRate, tt.user, tt.chat)
			}
		})
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

// No problem message quotes a value under telegram, database or a CI connection's auth, or
// in a place above them where a mis-indented secret lands; other values are quoted.
func TestConfigProblemsNeverQuoteSecretPlaces(t *testing.T) {
	const secret = "777:SECRET_value"
	tests := []struct{ name, yaml string }{
		{"whole file", secret},
		{"telegram", "telegram: " + secret},
		{"telegram.mode", "telegram:\n  mode: " + secret},
		{"telegram.poll_timeout", "telegram:\n  poll_timeout: " + secret},
		{"telegram.limits", "telegram:\n  limits: " + secret},
		{"telegram.limits.global", "telegram:\n  limits:\n    global: " + secret},
		{"telegram.webhook", "telegram:\n  webhook: " + secret},
		{"telegram.webhook.url", "telegram:\n  webhook:\n    url: [" + secret + "]"},
		{"database", "database: " + secret},
		{"database.url", "database:\n  url: " + secret},
		{"ci", "ci: " + secret},
		{"ci[0]", "ci:\n  - " + secret},
		{"ci[0].auth", "ci:\n  - name: a\n    auth: " + secret},
		{"ci[0].auth.type", "ci:\n  - name: a\n    auth: {type: " + secret + "}"},
		{"ci[1].auth.password", "ci:\n  - name: a\n  - name: b\n    auth: {type: basic, username: u, password: {x: 1}, token: " + secret + "}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("t.yaml", []byte(tt.yaml), testEnv(nil))
			if err == nil {
				t.Fatal("no problem reported")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("a problem quotes the secret:\n%v", err)
			}
		})
	}
	// Elsewhere the value helps and is shown.
	_, err := parseConfig("t.yaml", []byte("log:\n  level: loud\nci:\n  - name: a\n    poll_interval: often\n"), testEnv(nil))
	if err == nil || !strings.Contains(err.Error(), `log.level must be debug, info, warn or error, not "loud"`) ||
		!strings.Contains(err.Error(), `ci[0].poll_interval: "often" is not a duration`) {
		t.Errorf("values outside secret places should be quoted; got:\n%v", err)
	}
}

func TestMetricsListen(t *testing.T) {
	base := "telegram:\n  token: 1:a\ndatabase:\n  url: postgres://x@y/z\n"
	cfg, err := parseConfig("t.yaml", []byte(base+"http:\n  metrics_listen: 127.0.0.1:9090\n"), testEnv(nil))
	if err != nil || cfg.HTTP.MetricsListen != "127.0.0.1:9090" || cfg.HTTP.Listen != "127.0.0.1:8080" {
		t.Fatalf("cfg %+v, err %v", cfg, err)
	}
	_, err = parseConfig("t.yaml", []byte(base+"http:\n  metrics_listen: nine\n"), testEnv(nil))
	if err == nil || err.Error() != "t.yaml:6: http.metrics_listen must be host:port, e.g. 127.0.0.1:9090, or left out to serve /metrics on http.listen" {
		t.Errorf("err = %v", err)
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
	f.Add([]byte("ci:\n  - [x]\n  -\n  - &e {name: b, type: bb, name: c, auth: {type: *e}}\n  - *e\n"))
	f.Add([]byte("authz:\n  rules:\n    - commands: force\n      allow: [1, '@x']\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := parseConfig("f.yaml", raw, testEnv(nil))
		if (cfg == nil) == (err == nil) {
			t.Fatalf("parseConfig returned cfg=%v err=%v; want exactly one", cfg, err)
		}
	})
}
