package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/herald-ci/herald/commands"
)

// TestGetIDSaysWhoItSees: /getid from an anonymous admin or a channel must not read as if the
// placeholder user Telegram puts in "from" were the sender's own id (pasting it into authz
// would grant every anonymous admin everywhere); it names the chat they post as instead.
func TestGetIDSaysWhoItSees(t *testing.T) {
	group := commands.Request{ChatID: -1001, ChatType: "supergroup", ChatTitle: "Team", Command: "getid"}
	tests := []struct {
		name    string
		req     func(commands.Request) commands.Request
		want    []string
		notWant []string
	}{
		{"person in a group", func(r commands.Request) commands.Request {
			r.UserID = 42
			return r
		}, []string{"Your ID is <code>42</code>.", "This chat's ID is <code>-1001</code>."}, []string{"placeholder"}},
		{"person in private", func(r commands.Request) commands.Request {
			r.UserID, r.ChatID, r.ChatType = 42, 42, "private"
			return r
		}, []string{"Your ID is <code>42</code>."}, []string{"chat's ID"}},
		{"anonymous admin", func(r commands.Request) commands.Request {
			r.UserID, r.Actor, r.SenderChatID, r.SenderChatTitle = 1087968824, commands.ActorAnonymousAdmin, -1001, "Team"
			return r
		}, []string{"writing as the group", "placeholder user <code>1087968824</code>", "not your ID", "This chat's ID is <code>-1001</code>."},
			[]string{"Your ID is"}},
		{"channel", func(r commands.Request) commands.Request {
			r.UserID, r.Actor, r.SenderChatID, r.SenderChatTitle = 136817688, commands.ActorChannel, -1002, "News <&>"
			return r
		}, []string{"posting as the channel “News &lt;&amp;&gt;” (ID <code>-1002</code>)", "placeholder user <code>136817688</code>", "not your ID"},
			[]string{"Your ID is"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := commands.GetID().Handler.Handle(context.Background(), tt.req(group))
			if err != nil || len(resp.Replies) != 1 {
				t.Fatalf("Handle = %+v, %v", resp, err)
			}
			text := resp.Replies[0].Text
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("reply %q does not say %q", text, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(text, w) {
					t.Errorf("reply %q says %q", text, w)
				}
			}
		})
	}
}
