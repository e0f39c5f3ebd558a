package commands_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/commands"
)

// fakeAdmins is Telegram's getChatMember as Deps.ChatAdmin sees it: who administers which
// chat, whether the call fails, and how often it was made.
type fakeAdmins struct {
	mu     sync.Mutex
	admins map[[2]int64]bool
	fail   error
	calls  int
}

func (f *fakeAdmins) ask(ctx context.Context, chatID, userID int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return false, f.fail
	}
	return f.admins[[2]int64{chatID, userID}], nil
}

func (f *fakeAdmins) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeAdmins) failWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

// withAdmins wires fake admins into the env, with the admin-only rule on or off.
func withAdmins(e *env, adminsOnly bool) *fakeAdmins {
	f := &fakeAdmins{admins: map[[2]int64]bool{{groupID, admin}: true}}
	spec := testSpec()
	spec.NotifyAdminsOnly = adminsOnly
	e.restart(spec)
	e.rewire(func(d *commands.Deps) { d.ChatAdmin = f.ask })
	return f
}

var errTelegramDown = errors.New("telegram: getChatMember: Bad Gateway")

// TestNotifyWithoutAdminRuleNeverAsksTelegram: with notify_admins_only off, /notify and its
// buttons work in a group while getChatMember fails, and Telegram is never asked (issue 8,
// item 8).
func TestNotifyWithoutAdminRuleNeverAsksTelegram(t *testing.T) {
	e := newEnv(t)
	f := withAdmins(e, false)
	f.failWith(errTelegramDown)
	mustContain(t, e.send(groupID, nobody, "/notify on"), "Notifications for this chat: problem, recovery.")
	kb := e.send(groupID, nobody, "/notify")
	if res := e.press(groupID, nobody, kb, "▫️ started"); res.Notice != "started on" {
		t.Fatalf("press: %s", dump(res))
	}
	mustContain(t, e.send(groupID, nobody, "/notify cards off"), "separate messages")
	if ev, _, _ := settings(t, e, groupID, 0); !slices.Equal(ev, []string{"started", "problem", "recovery"}) {
		t.Fatalf("settings: %v", ev)
	}
	if n := f.count(); n != 0 {
		t.Fatalf("asked Telegram %d times with the admin-only rule off", n)
	}
}

// TestNotifyAdminRuleTelegramDown: with the rule on and Telegram unreachable, the user is
// told so plainly, and nothing changes.
func TestNotifyAdminRuleTelegramDown(t *testing.T) {
	e := newEnv(t)
	f := withAdmins(e, true)
	f.failWith(errTelegramDown)
	const want = "I could not ask Telegram whether you administer this chat; try again in a minute."
	mustContain(t, e.send(groupID, admin, "/notify on"), want)
	kb := e.send(groupID, admin, "/notify")
	if res := e.press(groupID, admin, kb, "▫️ started"); res.Notice != want {
		t.Fatalf("press: %s", dump(res))
	}
	if ev, _, _ := settings(t, e, groupID, 0); len(ev) != 0 {
		t.Fatalf("settings changed: %v", ev)
	}
	// Reading needs no admin.
	mustContain(t, e.send(groupID, admin, "/notify list"), "none")
	// Telegram is back: the failure was not remembered.
	f.failWith(nil)
	mustContain(t, e.send(groupID, admin, "/notify on"), "problem, recovery")
}

// TestNotifyAdminAnswersCached: each (chat, user) is asked once per few minutes, whatever
// they send or press.
func TestNotifyAdminAnswersCached(t *testing.T) {
	e := newEnv(t)
	f := withAdmins(e, true)
	mustContain(t, e.send(groupID, admin, "/notify on"), "problem, recovery")
	kb := e.send(groupID, admin, "/notify")
	res := e.press(groupID, admin, kb, "▫️ started")
	res = e.press(groupID, admin, res, "✅ started")
	e.send(groupID, admin, "/notify sound on")
	if n := f.count(); n != 1 {
		t.Fatalf("asked Telegram %d times for one user, want 1", n)
	}
	// Another user is another question, and is remembered as not an admin.
	mustContain(t, e.send(groupID, nobody, "/notify off"), "Only this group's admins")
	if res := e.press(groupID, nobody, kb, "▫️ started"); !strings.Contains(res.Notice, "Only this group's admins") {
		t.Fatalf("press: %s", dump(res))
	}
	if n := f.count(); n != 2 {
		t.Fatalf("asked Telegram %d times for two users, want 2", n)
	}
	// A few minutes later the answer is asked for again: nobody was promoted meanwhile.
	f.mu.Lock()
	f.admins[[2]int64{groupID, nobody}] = true
	f.mu.Unlock()
	e.advance(4 * time.Minute)
	mustContain(t, e.send(groupID, nobody, "/notify off"), "Only this group's admins")
	e.advance(2 * time.Minute)
	mustContain(t, e.send(groupID, nobody, "/notify off"), "Notifications for this chat: none.")
	if n := f.count(); n != 3 {
		t.Fatalf("asked Telegram %d times, want 3", n)
	}
	// A private chat never asks.
	e.send(nobody, nobody, "/notify on")
	if n := f.count(); n != 3 {
		t.Fatalf("a private chat asked Telegram")
	}
}
