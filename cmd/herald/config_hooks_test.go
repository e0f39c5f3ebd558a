package main

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// Every problem of the hooks at its line: a template's problem at the line inside the
// template (the block's first line is the line after "template: |"), and no secret quoted.
func TestLoadConfigHookProblems(t *testing.T) {
	want := []string{
		`testdata/config/bad_hooks.yaml:14: hooks[0].template, line 2: bad character U+007D '}'`,
		`testdata/config/bad_hooks.yaml:15: hooks[0].filter, line 1: unexpected "}" in operand`,
		`testdata/config/bad_hooks.yaml:16: hooks[0].chats[2].id is required: the chat id /getid shows`,
		`testdata/config/bad_hooks.yaml:17: hooks[1].status is required for kind: check: e.g. '{{.status}}' (ok, warning, critical, unknown)`,
		`testdata/config/bad_hooks.yaml:17: hooks[1].name "monitor" is also the name of a ci connection: a check hook is a connection of its own, so names must differ`,
		`testdata/config/bad_hooks.yaml:21: hooks[1].template is for message hooks; a check's message is herald's problem or recovery (use text: for its words)`,
		`testdata/config/bad_hooks.yaml:22: hooks[1].expect_every: "10 minutes" is not a duration (use e.g. 30s, 5m)`,
		`testdata/config/bad_hooks.yaml:23: hooks[2].name "allure" is used twice`,
		`testdata/config/bad_hooks.yaml:25: hooks[2].template, line 1: function "nope" not defined`,
		`testdata/config/bad_hooks.yaml:26: hooks[3]: expected a mapping of keys (name, secret, template, ...), got a single value or a list`,
		`testdata/config/bad_hooks.yaml:27: hooks[4].name must be a short lower-case name like allure or monitor (a-z, 0-9, _ and -)`,
		`testdata/config/bad_hooks.yaml:27: hooks[4].secret is required: without it anyone who finds the URL could post to the chats`,
		`testdata/config/bad_hooks.yaml:28: hooks[4].kind must be message or check`,
	}
	_, err := LoadConfig("testdata/config/bad_hooks.yaml", testEnv(map[string]string{"HERALD_TEST_HOOK_SECRET": "s3cret-from-env"}))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadConfig error = %v; want a *ConfigError", err)
	}
	got := strings.Join(ce.Problems, "\n")
	if got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, secret := range []string{"s3cret-from-env", "not-quoted-anywhere-1234", "another-secret-5678", "a-misplaced-secret-value"} {
		if strings.Contains(got, secret) {
			t.Errorf("a problem quotes the secret %q", secret)
		}
	}
}

// hooks: decodes every key, chats as ids or {id, thread}.
func TestLoadConfigHooks(t *testing.T) {
	cfg, err := parseConfig("x.yaml", []byte(`telegram:
  token: "123456:ABCdef_ghi-JKL"
database:
  url: postgres://herald@localhost/herald
hooks:
  - name: allure
    secret: ${S}
    template: '{{.launchName}}'
    dedup: '{{.launchId}}'
    chats: [-100, {id: -200, thread: 3}]
    allow_chats: [5]
  - name: monitor
    kind: check
    secret: ${S}
    check: '{{.service}}'
    status: '{{.status}}'
    text: '{{.message}}'
    expect_every: 10m
`), testEnv(map[string]string{"S": "from-env-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := cfg.compileHooks(nil)
	if err != nil || len(hooks) != 2 {
		t.Fatalf("compileHooks = %v, %v", hooks, err)
	}
	a, m := hooks[0].Config(), hooks[1].Config()
	if a.Secret != "from-env-secret" || len(a.Chats) != 2 || a.Chats[1].ChatID != -200 || a.Chats[1].ThreadID != 3 || a.AllowChats[0] != 5 {
		t.Errorf("allure = %+v", a)
	}
	if !hooks[1].IsCheck() || m.ExpectEvery.String() != "10m0s" || m.Text != "{{.message}}" {
		t.Errorf("monitor = %+v", m)
	}
	if !strings.Contains(string(cfg.secrets()[len(cfg.secrets())-1]), "from-env-secret") {
		t.Errorf("the hook's secret is not among the log filter's secrets")
	}
}

// The example config's commented hooks are a working config once uncommented.
func TestExampleHooksParse(t *testing.T) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var block []string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case line == "hooks: []":
			in = true
			block = append(block, "hooks:")
		case in && strings.HasPrefix(line, "#  "):
			block = append(block, line[1:])
		case in:
			in = false
		}
	}
	if len(block) < 10 {
		t.Fatalf("the example's hooks block is %d lines", len(block))
	}
	cfg, err := parseConfig("example-hooks.yaml", []byte("telegram:\n  token: \"123456:ABCdef_ghi-JKL\"\ndatabase:\n  url: postgres://h@localhost/h\n"+strings.Join(block, "\n")+"\n"),
		testEnv(map[string]string{"ALLURE_HOOK_SECRET": "a-secret-value", "MONITOR_SECRET": "m-secret-value"}))
	if err != nil {
		t.Fatalf("the example's hooks do not load:\n%v", err)
	}
	if len(cfg.Hooks) != 2 || cfg.Hooks[1].Kind != "check" || cfg.Hooks[0].Filter == "" {
		t.Errorf("hooks = %+v", cfg.Hooks)
	}
}
