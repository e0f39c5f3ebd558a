package commands_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/hook"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

func TestParseNotifyHooks(t *testing.T) {
	got, err := commands.ParseNotify(strings.Fields("on Hook:allure problem hook:allure, hook:monitor"))
	want := commands.NotifyCommand{Action: "on", Events: []ci.Kind{ci.KindProblem}, Hooks: []string{"allure", "monitor"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v %v, want %+v", got, err, want)
	}
	if _, err := commands.ParseNotify([]string{"on", "hook:Not_A_Name!"}); err == nil {
		t.Fatal("a bad hook name parsed")
	} else if msg, ok := commands.AsUser(err); !ok || !strings.Contains(msg, "is not a hook name") {
		t.Fatalf("error %v", err)
	}
}

// /notify on hook:NAME subscribes to a hook of the config, only where its allow_chats let
// it; the hooks survive changes of the CI events and are shown in /notify list; /notify off
// alone turns them off with everything else.
func TestNotifyHooks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.RegisterHooks(ctx, []store.HookDef{
		{Name: "allure", Kind: hook.KindMessage},
		{Name: "secret", Kind: hook.KindMessage, AllowChats: []int64{admin}},
	}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, e.send(groupID, nobody, "/notify on hook:allure"), "Notifications for this chat: no CI events.", "Hooks: <code>allure</code>")
	e.send(groupID, nobody, "/notify on problem")
	e.send(groupID, nobody, "/notify off problem")
	if ev, _, _ := settings(t, e, groupID, 0); !slices.Equal(ev, []string{store.HookEvent("allure")}) {
		t.Fatalf("settings: %v", ev)
	}
	mustContain(t, e.send(groupID, nobody, "/notify list"), "Hooks: <code>allure</code>")
	mustContain(t, e.send(groupID, nobody, "/notify on hook:nope"), "There is no hook nope")
	mustContain(t, e.send(groupID, nobody, "/notify on hook:secret"), "This chat may not hear hook secret")
	mustContain(t, e.send(admin, admin, "/notify on hook:secret"), "Hooks: <code>secret</code>")
	e.send(groupID, nobody, "/notify on recovery")
	mustContain(t, e.send(groupID, nobody, "/notify off hook:allure"), "Notifications for this chat: recovery.")
	e.send(groupID, nobody, "/notify on hook:allure")
	e.send(groupID, nobody, "/notify off")
	if ev, _, _ := settings(t, e, groupID, 0); len(ev) != 0 {
		t.Fatalf("after /notify off: %v", ev)
	}
}

// A check hook's results arrive as problem and recovery of its checks, never as hook:NAME:
// /notify on hook:<check hook> would subscribe to nothing, so it is refused with the way that
// works, and nothing is stored.
func TestNotifyRefusesCheckHook(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.RegisterHooks(ctx, []store.HookDef{{Name: "monitor", Kind: hook.KindCheck}}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, e.send(groupID, nobody, "/notify on hook:monitor"), "The hook monitor is a check", "/notify on problem recovery")
	if ev, _, _ := settings(t, e, groupID, 0); len(ev) != 0 {
		t.Fatalf("settings after the refusal: %v", ev)
	}
}
