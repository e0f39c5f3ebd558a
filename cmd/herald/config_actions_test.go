package main

import (
	"strings"
	"testing"
	"time"
)

func TestActionsConfig(t *testing.T) {
	raw := relayBase + `actions:
  - name: deploy
    description: deploy a service
    url: https://ops.example.com/hooks/deploy
    secret: "${DEPLOY_HOOK_SECRET}"
    dangerous: true
    timeout: 20s
  - name: weather
    description: tell the weather
    url: http://127.0.0.1:9000/weather
    secret: weather-secret-0123456789
authz:
  rules:
    - commands: [deploy]
      allow: [42]
forward:
  url: https://rules.example.com/telegram
  secret: forward-secret-0123456789
  chats: [-1001, 5]
`
	cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(map[string]string{"DEPLOY_HOOK_SECRET": "deploy-secret-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	list := cfg.ActionList()
	if len(list) != 2 || list[0].Name != "deploy" || !list[0].Dangerous || list[0].Timeout != 20*time.Second ||
		list[1].Timeout != 10*time.Second || list[1].Dangerous {
		t.Fatalf("actions = %+v", list)
	}
	if eps := cfg.ActionEndpoints(); eps[0].Secret != "deploy-secret-0123456789" || eps[1].URL != "http://127.0.0.1:9000/weather" {
		t.Fatalf("endpoints = %+v", eps)
	}
	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Dangerous("deploy") || m.Dangerous("weather") || !m.Decide(42, "deploy", "").Allowed || m.Decide(7, "deploy", "").Allowed {
		t.Fatal("the matrix does not treat deploy as a dangerous command allowed to 42 only")
	}
	secrets := map[string]bool{}
	for _, s := range cfg.secrets() {
		secrets[string(s)] = true
	}
	for _, s := range []string{"deploy-secret-0123456789", "weather-secret-0123456789", "forward-secret-0123456789"} {
		if !secrets[s] {
			t.Errorf("%s missing from the log filter's secrets", s)
		}
	}
	if cfg.forwardBody() == nil || len(cfg.Forward.Chats) != 2 {
		t.Fatalf("forward = %+v", cfg.Forward)
	}
}

// The messages are compared verbatim, each at its line, and no secret is ever quoted.
func TestActionsConfigProblems(t *testing.T) {
	raw := relayBase + `actions:
  - name: Deploy-It
    url: ftp://ops.example.com/x
    secret: short-one
    timeout: 2m
  - name: status
    description: clashes
    url: http://ops.example.com/x
    secret: the-long-enough-secret-1
  - name: deploy
    description: ok
    url: https://ops.example.com/x
    secret: "${UNSET_SECRET}"
  - name: deploy
    description: twice
    url: https://ops.example.com/x
    secret: the-long-enough-secret-2
    scret: misplaced-secret-value
forward:
  url: http://rules.example.com/
  secret: "tiny"
  chats: [0, 5, 5]
`
	_, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
	want := []string{
		`t.yaml:6: actions[0].name must be a chat command name: 1-32 characters a-z, 0-9 and _ (e.g. deploy)`,
		`t.yaml:6: actions[0].description is required: 3-256 characters, shown in /help and the command menu`,
		`t.yaml:6: actions[0].url must be an https URL (http only for localhost)`,
		`t.yaml:6: actions[0].secret is required: at least 16 characters, from the environment (secret: "${ACTION_SECRET_DEPLOY_IT}")`,
		`t.yaml:6: actions[0].timeout must be more than 0 and at most 60s`,
		`t.yaml:10: actions[1].name "status" is one of herald's own commands; choose another`,
		`t.yaml:10: actions[1].url must be https: http is allowed only for localhost`,
		`t.yaml:14: actions[2].description is required: 3-256 characters, shown in /help and the command menu`,
		`t.yaml:17: actions[2].secret: environment variable UNSET_SECRET is not set`,
		`t.yaml:18: actions[3].name "deploy" is used twice`,
		`t.yaml:22: actions[3]: unknown key "scret" (known keys: name, description, url, secret, dangerous, timeout)`,
		`t.yaml:24: forward.url must be https: http is allowed only for localhost`,
		`t.yaml:24: forward.secret is required: at least 16 characters, from the environment (secret: "${FORWARD_SECRET}")`,
		`t.yaml:24: forward.chats: 0 is not a chat id`,
		`t.yaml:24: forward.chats: chat 5 is listed twice`,
	}
	if err == nil {
		t.Fatal("no problems reported")
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, secret := range []string{"short-one", "the-long-enough", "misplaced-secret-value", "tiny"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("a secret is quoted: %s", secret)
		}
	}
}
