package main

import (
	"context"
	"testing"

	"github.com/herald-ci/herald/store/storetest"
)

// A chat a relay token may write to hears that tool's messages: it counts as registered
// (and may turn off what it hears) without asking the admins; other chats do not.
func TestRelayChatRegistered(t *testing.T) {
	ctx := context.Background()
	cfg, err := parseConfig("t.yaml", []byte(relayBase+`relay:
  tokens:
    - name: allure
      token: abcdefghijklmnop0123
      chats: [-1007, {id: -1008, thread: 4}]
`), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistrations(storetest.New(t), cfg)
	for _, tt := range []struct {
		chat int64
		want bool
	}{{-1007, true}, {-1008, true}, {-1009, false}} {
		if got, err := r.ChatRegistered(ctx, tt.chat); err != nil || got != tt.want {
			t.Errorf("ChatRegistered(%d) = %v, %v; want %v", tt.chat, got, err, tt.want)
		}
	}
}
