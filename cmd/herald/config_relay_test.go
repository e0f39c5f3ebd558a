package main

import (
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/relay"
)

const relayBase = "telegram:\n  token: 1:a\ndatabase:\n  url: postgres://x@y/z\n"

func TestRelayConfig(t *testing.T) {
	raw := relayBase + `relay:
  tokens:
    - name: allure
      token: "${RELAY_TOKEN_ALLURE}"
      chats: [5023003345, {id: -1001234567890, thread: 7}]
    - name: nightly-tests
      token: 0123456789abcdef-_XYZ
      chats:
        - -100555
`
	cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(map[string]string{"RELAY_TOKEN_ALLURE": "allure-secret-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.RelayTokens()
	want := []relay.Token{
		{Name: "allure", Secret: "allure-secret-0123456789", Chats: []relay.Chat{{ID: 5023003345}, {ID: -1001234567890, Thread: 7}}},
		{Name: "nightly-tests", Secret: "0123456789abcdef-_XYZ", Chats: []relay.Chat{{ID: -100555}}},
	}
	if len(got) != len(want) {
		t.Fatalf("tokens = %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Secret != w.Secret || len(g.Chats) != len(w.Chats) {
			t.Errorf("token %d = %+v, want %+v", i, g, w)
			continue
		}
		for j := range w.Chats {
			if g.Chats[j] != w.Chats[j] {
				t.Errorf("token %d chat %d = %+v, want %+v", i, j, g.Chats[j], w.Chats[j])
			}
		}
	}
	// The relay tokens are among the secrets the log filter masks.
	secrets := map[string]bool{}
	for _, s := range cfg.secrets() {
		secrets[string(s)] = true
	}
	if !secrets["allure-secret-0123456789"] || !secrets["0123456789abcdef-_XYZ"] {
		t.Errorf("relay tokens missing from the log filter's secrets")
	}
}

// The messages are compared verbatim, each at its line, and no token is ever quoted.
func TestRelayConfigProblems(t *testing.T) {
	raw := relayBase + `relay:
  tokens:
    - name: Allure
      token: short-secret
      chats: []
    - name: ok
      token: "${RELAY_TOKEN_UNSET}"
      chats: [0, {id: 5, thread: -1}, "@chan", 5, 5]
    - name: ok
      tokn: the-misplaced-secret-token
      token: same-secret-0123456789
      chats: [1]
    - name: other
      token: same-secret-0123456789
      chats: [2]
    - name: empty
      chats: [{id: 3, topic: 4}]
`
	_, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
	want := []string{
		`t.yaml:7: relay.tokens[0].name must be a short lower-case name like allure`,
		`t.yaml:7: relay.tokens[0].token must be 16 to 256 characters A-Z, a-z, 0-9, _ and - (it is part of a URL); e.g. openssl rand -hex 24`,
		`t.yaml:7: relay.tokens[0].chats is required: the chats this token may write to`,
		`t.yaml:11: relay.tokens[1].token: environment variable RELAY_TOKEN_UNSET is not set`,
		`t.yaml:12: relay.tokens[1].chats[2]: expected a chat id (a whole number) or {id, thread}`,
		`t.yaml:12: relay.tokens[1].chats[0]: a chat id is required: the id /getid shows`,
		`t.yaml:12: relay.tokens[1].chats[1].thread must be a topic id (/getid in the topic), or left out for the whole chat`,
		`t.yaml:12: relay.tokens[1].chats[4]: chat 5 is listed twice`,
		`t.yaml:13: relay.tokens[2].name "ok" is used twice`,
		`t.yaml:14: relay.tokens[2]: unknown key "tokn" (known keys: name, token, chats)`,
		`t.yaml:17: relay.tokens[3].token is the same as another relay token's: give each tool its own`,
		`t.yaml:20: relay.tokens[4].token is required: a long random secret, from the environment (token: "${RELAY_TOKEN_EMPTY}")`,
		`t.yaml:21: relay.tokens[4].chats[0]: unknown key "topic" (known keys: id, thread)`,
	}
	if err == nil {
		t.Fatal("no problems reported")
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	for _, secret := range []string{"short-secret", "same-secret", "the-misplaced-secret-token"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("a problem quotes the token %q", secret)
		}
	}
	// A token where a list of tokens belongs is not quoted either.
	_, err = parseConfig("t.yaml", []byte(relayBase+"relay:\n  tokens: my-relay-secret-0123456789\n"), testEnv(nil))
	if err == nil || strings.Contains(err.Error(), "my-relay-secret") {
		t.Errorf("err = %v", err)
	}
}
