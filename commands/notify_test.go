package commands_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

func TestParseNotify(t *testing.T) {
	tests := []struct {
		name string
		args string
		want commands.NotifyCommand
		err  string
	}{
		{name: "keyboard", args: "", want: commands.NotifyCommand{}},
		{name: "list", args: "list", want: commands.NotifyCommand{Action: "list"}},
		{name: "on alone", args: "on", want: commands.NotifyCommand{Action: "on"}},
		{name: "events in kinds order", args: "ON recovery problem problem", want: commands.NotifyCommand{Action: "on", Events: []ci.Kind{ci.KindProblem, ci.KindRecovery}}},
		{name: "filters", args: "on failure builder=docs-*,www branch=main",
			want: commands.NotifyCommand{Action: "on", Events: []ci.Kind{ci.KindFailure}, Builders: []string{"docs-*", "www"}, Branches: []string{"main"}}},
		{name: "clear filter", args: "off builder=", want: commands.NotifyCommand{Action: "off", Builders: []string{}}},
		{name: "star clears", args: "on branch=*", want: commands.NotifyCommand{Action: "on", Branches: []string{}}},
		{name: "all", args: "off all", want: commands.NotifyCommand{Action: "off", Events: ci.Kinds}},
		{name: "unknown event", args: "on explosions", err: "Unknown event explosions. Events: started, finished"},
		{name: "unknown action", args: "maybe", err: "I do not know /notify maybe."},
		{name: "bad glob", args: "on builder=[", err: "[ is not a valid pattern. A [ is never closed with ]."},
		{name: "bad class", args: "on branch=main,[z-a]", err: "[z-a] is not a valid pattern. The range z-a ends before it starts."},
		{name: "globs with slashes", args: "on builder=release-*/linux branch=feature/*",
			want: commands.NotifyCommand{Action: "on", Builders: []string{"release-*/linux"}, Branches: []string{"feature/*"}}},
		{name: "unknown filter", args: "on owner=me", err: "Unknown filter owner"},
		{name: "list takes nothing", args: "list all", err: "/notify list takes nothing more."},
		// A user-facing error is plain text, escaped once by the transport (Escape, see
		// TestUserErrorShownAsIs in bot and TestE2EUserErrorEscapedOnce): not here.
		{name: "plain text, not escaped twice", args: "on <b>", err: "Unknown event <b>."},
		{name: "cards off", args: "cards off", want: commands.NotifyCommand{Action: "cards", Switch: false}},
		{name: "sound on", args: "sound ON", want: commands.NotifyCommand{Action: "sound", Switch: true}},
		{name: "sound needs on or off", args: "sound loud", err: "Use /notify sound on or /notify sound off."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.ParseNotify(strings.Fields(tt.args))
			if tt.err != "" {
				msg, ok := commands.AsUser(err)
				if !ok || !strings.HasPrefix(msg, tt.err) {
					t.Fatalf("error %v, want prefix %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseNotify(f *testing.F) {
	for _, s := range []string{"", "on", "off all", "on problem builder=docs-* branch=main", "on builder=[", "list x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		nc, err := commands.ParseNotify(strings.Fields(s))
		if err != nil {
			if _, ok := commands.AsUser(err); !ok {
				t.Fatalf("%q: error not for the chat: %v", s, err)
			}
			return
		}
		for _, k := range nc.Events {
			if _, err := ci.ParseKind(string(k)); err != nil {
				t.Fatalf("%q: unknown kind %q", s, k)
			}
		}
	})
}

func settings(t *testing.T, e *env, chat, thread int64) (ev, b, br []string) {
	t.Helper()
	ev, b, br, err := e.st.NotifySettings(context.Background(), chat, thread)
	if err != nil {
		t.Fatal(err)
	}
	return ev, b, br
}

func TestNotifyCommands(t *testing.T) {
	e := newEnv(t)
	mustContain(t, e.send(groupID, nobody, "/notify list"), "Notifications for this chat: none.")
	res := e.send(groupID, nobody, "/notify on problem recovery builder=docs-* branch=main")
	mustContain(t, res, "problem, recovery", "Only builders: <code>docs-*</code>", "Only branches: <code>main</code>")
	e.send(groupID, nobody, "/notify on failure")
	ev, b, br := settings(t, e, groupID, 0)
	if !slices.Equal(ev, []string{"failure", "problem", "recovery"}) || !slices.Equal(b, []string{"docs-*"}) || !slices.Equal(br, []string{"main"}) {
		t.Fatalf("settings: %v %v %v", ev, b, br)
	}
	e.send(groupID, nobody, "/notify off problem builder=")
	if ev, b, _ := settings(t, e, groupID, 0); !slices.Equal(ev, []string{"failure", "recovery"}) || len(b) != 0 {
		t.Fatalf("after off problem: %v %v", ev, b)
	}
	// A forum topic has its own settings.
	r := req(groupID, nobody, "/notify on")
	r.ThreadID = 42
	res, err := e.reg.Handle(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, res, "Notifications for this topic: problem, recovery.")
	e.send(groupID, nobody, "/notify off")
	if ev, _, _ := settings(t, e, groupID, 0); len(ev) != 0 {
		t.Fatalf("off: %v", ev)
	}
	if ev, _, _ := settings(t, e, groupID, 42); !slices.Equal(ev, []string{"problem", "recovery"}) {
		t.Fatalf("topic touched: %v", ev)
	}
	// A private chat has its own.
	mustContain(t, e.send(admin, admin, "/notify on started"), "Notifications for you: started.")
	if _, err := e.reg.Handle(context.Background(), req(groupID, nobody, "/notify on boom")); err == nil {
		t.Fatal("unknown event: want a user error")
	}
}

func TestNotifyKeyboard(t *testing.T) {
	e := newEnv(t)
	e.send(groupID, admin, "/notify on problem")
	kb := e.send(groupID, admin, "/notify")
	findButton(t, kb, "✅ problem")
	findButton(t, kb, "▫️ recovery")
	// Someone else in the group presses it: settings are the group's.
	res := e.press(groupID, nobody, kb, "▫️ recovery")
	if res.Notice != "recovery on" || !res.Replies[0].Edit {
		t.Fatalf("toggle: %s", dump(res))
	}
	findButton(t, res, "✅ recovery")
	res = e.press(groupID, admin, res, "✅ problem")
	findButton(t, res, "▫️ problem")
	if ev, _, _ := settings(t, e, groupID, 0); !slices.Equal(ev, []string{"recovery"}) {
		t.Fatalf("settings: %v", ev)
	}
	res = e.press(groupID, admin, res, "Done")
	if hasKeyboard(res) {
		t.Fatal("Done keeps the keyboard")
	}
}

func TestNotifyAdminsOnly(t *testing.T) {
	e := newEnv(t)
	spec := testSpec()
	spec.NotifyAdminsOnly = true
	e.restart(spec)
	e.deps.ChatAdmin = func(ctx context.Context, chatID, userID int64) (bool, error) { return userID == admin, nil }
	e.reg = commands.NewRegistry(commands.NewGate(e.deps))
	commands.Register(e.reg, e.deps)

	mustContain(t, e.send(groupID, nobody, "/notify on"), "Only this group's admins")
	mustContain(t, e.send(groupID, nobody, "/notify list"), "none")
	kb := e.send(groupID, admin, "/notify on")
	mustContain(t, kb, "problem, recovery")
	kb = e.send(groupID, nobody, "/notify")
	if res := e.press(groupID, nobody, kb, "▫️ started"); !strings.Contains(res.Notice, "Only this group's admins") {
		t.Fatalf("press: %s", dump(res))
	}
	// In a private chat the user always may.
	mustContain(t, e.send(nobody, nobody, "/notify on"), "Notifications for you: problem, recovery.")
}
