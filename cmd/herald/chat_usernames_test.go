package main

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// chats[].id takes a number or "@channelusername" (also from ${ENV}); anything else that has
// an @ is refused at its line, and a chat with neither is still told what id means.
func TestChatIDByUsername(t *testing.T) {
	const base = "telegram:\n  token: 123:abc\ndatabase:\n  url: postgres://h/db\n"
	cfg, err := parseConfig("herald.yaml", []byte(base+`chats:
  - id: "@herald_builds"
    thread: 7
    events: [problem]
  - id: ${CHANNEL}
  - id: -1001234567
`), testEnv(map[string]string{"CHANNEL": "@Release_Notes"}))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, c := range cfg.Chats {
		got = append(got, strings.TrimSpace(strings.Join([]string{c.Username, itoa(c.ID), itoa(c.Thread), strings.Join(c.Events, ",")}, " ")))
	}
	want := []string{"@herald_builds 0 7 problem", "@Release_Notes 0 0", "-1001234567 0"}
	if !slices.Equal(got, want) {
		t.Fatalf("chats = %q, want %q", got, want)
	}
	if defs := defaultChats(cfg); len(defs) != 1 || defs[0].ChatID != -1001234567 {
		t.Errorf("defaultChats = %+v: the named chats are seeded once resolved, not as id 0", defs)
	}

	_, err = parseConfig("herald.yaml", []byte(base+`chats:
  - id: "@no"
  - id: "me@example.org"
  - events: [problem]
`), testEnv(nil))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConfigError", err)
	}
	wantProblems := []string{
		`herald.yaml:6: chats[0].id: "@no" is not a chat id nor a @channelusername (5-32 letters, digits, underscores)`,
		`herald.yaml:7: chats[1].id: "me@example.org" is not a chat id nor a @channelusername (5-32 letters, digits, underscores)`,
		`herald.yaml:8: chats[2].id is required: the chat id /getid shows, or @channelusername`,
	}
	if !slices.Equal(ce.Problems, wantProblems) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(ce.Problems, "\n"), strings.Join(wantProblems, "\n"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
