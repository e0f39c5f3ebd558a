package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci/buildbot"
)

// The example config is what an admin copies; the README quotes it. These tests keep both
// true: the example loads, it names every key herald knows, and the README's authz examples
// mean what the README says they mean.

const examplePath = "../../herald.example.yaml"

func TestExampleConfigIsValid(t *testing.T) {
	const token = "123456:example-token"
	cfg, err := LoadConfig(examplePath, testEnv(map[string]string{"TELEGRAM_BOT_TOKEN": token}))
	if err != nil {
		t.Fatalf("herald.example.yaml does not load:\n%v", err)
	}
	if cfg.Telegram.Token != token {
		t.Errorf("telegram.token = %q; want it from ${TELEGRAM_BOT_TOKEN}", cfg.Telegram.Token)
	}
	// The example states the defaults; they must be the real ones.
	def := defaults()
	if cfg.Telegram.APIURL != def.Telegram.APIURL || cfg.Telegram.Mode != def.Telegram.Mode ||
		cfg.Telegram.PollTimeout != def.Telegram.PollTimeout || cfg.Telegram.Webhook.Path != def.Telegram.Webhook.Path ||
		cfg.Telegram.Limits.Global != def.Telegram.Limits.Global ||
		cfg.Telegram.Limits.PerChatPerSecond != def.Telegram.Limits.PerChatPerSecond ||
		cfg.Telegram.Limits.PerGroupPerMinute != def.Telegram.Limits.PerGroupPerMinute {
		t.Errorf("telegram settings differ from the defaults the example claims: %+v", cfg.Telegram)
	}
	if cfg.Telegram.CommandLimits.PerUser.Burst != bot.DefaultUserRate.Burst ||
		cfg.Telegram.CommandLimits.PerUser.Every != bot.DefaultUserRate.Every ||
		cfg.Telegram.CommandLimits.PerChat.Burst != bot.DefaultChatRate.Burst ||
		cfg.Telegram.CommandLimits.PerChat.Every != bot.DefaultChatRate.Every {
		t.Errorf("telegram.command_limits differ from the intake's defaults the example claims: %+v", cfg.Telegram.CommandLimits)
	}
	if cfg.Log.Level != def.Log.Level {
		t.Errorf("log.level = %q; want the default the example claims", cfg.Log.Level)
	}
	// docker-compose.yml runs the example as it is: it must listen beyond the container.
	if cfg.HTTP.Listen != "0.0.0.0:8080" {
		t.Errorf("http.listen = %q; want 0.0.0.0:8080 for docker compose", cfg.HTTP.Listen)
	}
	if len(cfg.CI) != 1 {
		t.Fatalf("ci = %+v; want one connection", cfg.CI)
	}
	if bb, ok := cfg.CI[0].Section.(*buildbot.Section); !ok || bb.PollInterval != 30*time.Second || bb.Auth.Type != "none" {
		t.Errorf("ci[0] = %+v, section %+v; want one anonymous Buildbot connection polling every 30s", cfg.CI[0], cfg.CI[0].Section)
	}

	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	const release, docs, other = 123456, 789012, 555
	for _, c := range []struct {
		name         string
		user         int64
		cmd, builder string
		wantAllowed  bool
	}{
		{"anyone may ask status", other, "status", "", true},
		{"release forces anything", release, "force", "linux", true},
		{"release stops anything", release, "stop", "linux", true},
		{"release forces docs too", release, "force", "docs-site", true},
		{"docs forces docs builders", docs, "force", "docs-site", true},
		{"docs may not force others", docs, "force", "linux", false},
		{"docs may not stop", docs, "stop", "docs-site", false},
		{"others may not force", other, "force", "docs-site", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := m.Decide(c.user, c.cmd, c.builder).Allowed; got != c.wantAllowed {
				t.Errorf("Decide(%d, %s, %q).Allowed = %v; want %v", c.user, c.cmd, c.builder, got, c.wantAllowed)
			}
		})
	}
}

func TestExampleConfigNeedsTheTokenVariable(t *testing.T) {
	_, err := LoadConfig(examplePath, testEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "environment variable TELEGRAM_BOT_TOKEN is not set") {
		t.Fatalf("err = %v; want the unset ${TELEGRAM_BOT_TOKEN} reported", err)
	}
}

// TestExampleConfigNamesEveryKey fails when a config key is added without documenting it in
// the example (commented-out keys count).
func TestExampleConfigNamesEveryKey(t *testing.T) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	keys := configKeys(reflect.TypeOf(Config{}))
	for _, pt := range providerTypes {
		keys = append(keys, configKeys(reflect.TypeOf(pt.newSection()).Elem())...)
	}
	for _, key := range keys {
		re := regexp.MustCompile(`(?m)^[\s#-]*` + regexp.QuoteMeta(key) + `:`)
		if !re.Match(raw) {
			t.Errorf("herald.example.yaml does not mention the key %q", key)
		}
	}
}

// configKeys lists the YAML keys of a config struct and of the structs inside it.
func configKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		out = append(out, tag)
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Duration(0)) {
			out = append(out, configKeys(ft)...)
		}
	}
	return out
}

// buildbotAuthzExample is Buildbot's own authz example,
//
//	authz={'getid': True, '': [123456, 789012], ('force', 'stop'): [123456]}
//
// in herald's YAML, exactly as the README shows it.
const buildbotAuthzExample = `authz:
  rules:
    - commands: [getid]
      allow: everyone
    - commands: [safe]
      allow: [123456, 789012]
    - commands: [force, stop]
      allow: [123456]
`

func TestReadmeBuildbotAuthzExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), buildbotAuthzExample) {
		t.Errorf("README.md no longer shows Buildbot's authz example as this test checks it:\n%s", buildbotAuthzExample)
	}
	raw := "telegram:\n  token: \"1:a\"\ndatabase:\n  url: postgres://x@y/z\n" + buildbotAuthzExample
	cfg, err := parseConfig("readme.yaml", []byte(raw), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	const a, b, other = 123456, 789012, 555
	for _, c := range []struct {
		name        string
		user        int64
		cmd         string
		wantAllowed bool
	}{
		{"getid for everybody", other, "getid", true},
		{"safe commands for 123456", a, "status", true},
		{"safe commands for 789012", b, "last", true},
		{"safe commands not for others", other, "status", false},
		{"123456 may force", a, "force", true},
		{"123456 may stop", a, "stop", true},
		{"789012 may not force", b, "force", false},
		{"789012 may not stop", b, "stop", false},
		{"others may not force", other, "force", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := m.Decide(c.user, c.cmd, "any").Allowed; got != c.wantAllowed {
				t.Errorf("Decide(%d, %s).Allowed = %v; want %v", c.user, c.cmd, got, c.wantAllowed)
			}
		})
	}
}

// A README example of builder scopes and groups, checked the same way.
const scopedAuthzExample = `authz:
  groups:
    - name: release
      members: [123456]
    - name: docs
      members: [789012, 345678]
  rules:
    - commands: [dangerous]
      allow: ["@release"]
    - commands: [force]
      allow: ["@docs", "@release"]
      builders: ["docs-*"]
    - commands: [force]
      allow: nobody
      builders: ["release-*"]
  notify_admins_only: true
`

func TestReadmeScopedAuthzExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), scopedAuthzExample) {
		t.Errorf("README.md no longer shows the scoped authz example as this test checks it:\n%s", scopedAuthzExample)
	}
	raw := "telegram:\n  token: \"1:a\"\ndatabase:\n  url: postgres://x@y/z\n" + scopedAuthzExample
	cfg, err := parseConfig("readme.yaml", []byte(raw), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	const release, docs = 123456, 345678
	for _, c := range []struct {
		name         string
		user         int64
		cmd, builder string
		wantAllowed  bool
	}{
		{"release forces linux", release, "force", "linux", true},
		{"release stops release builds", release, "stop", "release-1.0", true},
		{"nobody forces release builds", release, "force", "release-1.0", false},
		{"docs forces docs", docs, "force", "docs-site", true},
		{"docs may not force linux", docs, "force", "linux", false},
		{"docs may not stop docs", docs, "stop", "docs-site", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := m.Decide(c.user, c.cmd, c.builder).Allowed; got != c.wantAllowed {
				t.Errorf("Decide(%d, %s, %q).Allowed = %v; want %v", c.user, c.cmd, c.builder, got, c.wantAllowed)
			}
		})
	}
	if m.MayNotify(true, false) || !m.MayNotify(true, true) || !m.MayNotify(false, false) {
		t.Errorf("notify_admins_only: want only admins in groups, anyone in private chats")
	}
}
