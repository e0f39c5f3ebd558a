package commands_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/commands"
)

// Telegram's placeholder senders.
const (
	anonymousAdmin = int64(1087968824) // GroupAnonymousBot: every anonymous admin of every group
	channelBot     = int64(136817688)  // Channel_Bot: whoever posts as a channel
	telegramBot    = int64(777000)     // channel posts forwarded into the discussion group
)

// as is a typed message in the group from a sender that names nobody.
func as(actor commands.Actor, text string) commands.Request {
	user := map[commands.Actor]int64{
		commands.ActorAnonymousAdmin: anonymousAdmin,
		commands.ActorChannel:        channelBot,
		commands.ActorAutoForward:    telegramBot,
	}[actor]
	r := req(groupID, user, text)
	r.Actor = actor
	r.UserName = "GroupAnonymousBot"
	switch actor {
	case commands.ActorAnonymousAdmin:
		r.SenderChatID, r.SenderChatTitle = groupID, "Team"
	case commands.ActorChannel, commands.ActorAutoForward:
		r.SenderChatID, r.SenderChatTitle = -100777, "Release <news>"
	}
	return r
}

// everyoneMayAct grants every dangerous command to everyone: a sender that names nobody must
// be refused even then, since the matrix cannot know who it is.
func everyoneMayAct() authz.Spec {
	return authz.Spec{Rules: []authz.Rule{{Commands: []string{"dangerous"}, Who: []string{"everyone"}, Line: 1}}}
}

// TestAnonymousSendersMayNotActDangerously: issue 8, item 9, commands side.
func TestAnonymousSendersMayNotActDangerously(t *testing.T) {
	tests := []struct {
		actor commands.Actor
		want  []string
	}{
		{commands.ActorAnonymousAdmin, []string{"You are writing as the group (anonymous admin)", "who may /force", "Remain anonymous"}},
		{commands.ActorChannel, []string{"You are writing as the channel Release &lt;news&gt;", "who may /force", "your own account"}},
		{commands.ActorAutoForward, []string{"channel post forwarded into the group", "who may /force"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.actor), func(t *testing.T) {
			e := newEnv(t)
			e.restart(everyoneMayAct())
			runningSlow(e)
			for _, cmd := range []string{"/force", "/force pass", "/stop", "/stop slow"} {
				res, err := e.handle(context.Background(), as(tt.actor, cmd))
				if err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				want := slices.Clone(tt.want)
				if strings.HasPrefix(cmd, "/stop") {
					for i := range want {
						want[i] = strings.ReplaceAll(want[i], "/force", "/stop")
					}
				}
				mustContain(t, res, want...)
				if hasKeyboard(res) {
					t.Fatalf("%s: a keyboard for nobody: %s", cmd, dump(res))
				}
			}
			if e.forcedCount() != 0 || len(e.stopped) != 0 {
				t.Fatal("acted for nobody")
			}
			log := e.audit()
			if len(log) != 4 {
				t.Fatalf("want every refused attempt audited, got %+v", log)
			}
			for _, a := range log {
				if a.Outcome != "denied" || !strings.Contains(a.Detail, "not a person's own account ("+string(tt.actor)+")") {
					t.Fatalf("audit: %+v", a)
				}
			}
			// The same request from a person's own account goes ahead.
			mustContain(t, e.send(groupID, nobody, "/force pass"), "Force <b>pass</b>")
		})
	}
}

// TestAnonymousSendersMayReadAndNotChangeNotify: safe commands keep working; /notify
// changes are refused with the explanation and change nothing.
func TestAnonymousSendersMayReadAndNotChangeNotify(t *testing.T) {
	e := newEnv(t)
	for _, cmd := range []string{"/notify on", "/notify off all", "/notify cards off", "/notify sound on", "/notify on failure builder=docs-*"} {
		res, err := e.handle(context.Background(), as(commands.ActorAnonymousAdmin, cmd))
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		mustContain(t, res, "You are writing as the group (anonymous admin)", "whether you may change this chat's notifications")
	}
	if ev, b, _ := settings(t, e, groupID, 0); len(ev) != 0 || len(b) != 0 {
		t.Fatalf("settings changed: %v %v", ev, b)
	}
	if cards, loud, err := e.st.ChatStyle(context.Background(), groupID); err != nil || !cards || loud {
		t.Fatalf("style changed: cards=%v loud=%v %v", cards, loud, err)
	}
	for cmd, want := range map[string]string{
		"/notify list":   "Notifications for this chat: none.",
		"/notify":        "Notifications for this chat: none.",
		"/status":        "pass",
		"/list builders": "docs-site",
	} {
		res, err := e.handle(context.Background(), as(commands.ActorChannel, cmd))
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		mustContain(t, res, want)
	}
	if len(e.audit()) != 0 {
		t.Fatalf("safe commands audited: %+v", e.audit())
	}
}
