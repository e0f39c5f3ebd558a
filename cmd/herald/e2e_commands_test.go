package main

// End-to-end tests of the chat commands (issue 4's "Done means"): the real herald binary,
// the fake Bot API, a real Buildbot master and a Postgres database per test.

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// Buildbot's result codes.
const (
	bbSuccess   = 0
	bbFailure   = 2
	bbCancelled = 6
)

func bbResult(b buildbottest.Build) int {
	if b.Results == nil {
		return -1
	}
	return *b.Results
}

// forceThroughKeyboards walks /force in chat as user up to the parameter form of builder and
// returns the form.
func forceToForm(t *testing.T, tg *telegramtest.Server, chat telegramtest.Chat, user telegramtest.User, builder string) telegramtest.Message {
	t.Helper()
	tg.SendText(chat, user, "/force")
	pick := waitText(t, tg, chat.ID, "Which builder should I force?")
	press(t, tg, chat, user, pick, builder)
	return waitMessage(t, tg, chat.ID, "the /force form of "+builder, func(m telegramtest.Message) bool {
		return m.MessageID == pick.MessageID && strings.Contains(m.Text, "Force <b>"+builder+"</b>")
	})
}

// setGreeting presses the Greeting field of form and answers its question with value; it
// returns the redrawn form.
func setGreeting(t *testing.T, tg *telegramtest.Server, chat telegramtest.Chat, user telegramtest.User, form telegramtest.Message, value string) telegramtest.Message {
	t.Helper()
	press(t, tg, chat, user, form, "Greeting")
	waitMessage(t, tg, chat.ID, "the question for Greeting", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Send me <b>Greeting</b>")
	})
	tg.SendText(chat, user, value)
	return waitMessage(t, tg, chat.ID, "the form with the greeting", func(m telegramtest.Message) bool {
		return m.MessageID != form.MessageID && strings.Contains(m.Text, "Greeting: <code>"+value+"</code>")
	})
}

func TestE2EForceAllowedAndDenied(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg, h := startWithCI(t, m)
	aliceChat, bobChat := telegramtest.PrivateChat(alice), telegramtest.PrivateChat(bob)

	// Alice may force: builder, a parameter answered by text, Start.
	form := forceToForm(t, tg, aliceChat, alice, buildbottest.BuilderPass)
	form = setGreeting(t, tg, aliceChat, alice, form, "hello-e2e")
	qid := press(t, tg, aliceChat, alice, form, "Start")
	waitText(t, tg, alice.ID, "🚀 Forced <b>pass</b>", "greeting=hello-e2e")
	if a := waitAnswer(t, tg, qid); a.Text != "Forced." {
		t.Errorf("Start's callback answer = %q; want \"Forced.\"", a.Text)
	}
	// The follow-up: a started message, then the result (a new message, or the live card
	// brought up to date).
	started := waitSent(t, tg, alice.ID, "<b>pass</b>", "#1", "started")
	buttonData(t, started, "Stop") // a forced build's start comes with a Stop button
	finished := waitText(t, tg, alice.ID, "<b>pass</b>", "#1", "succeeded")
	if started.MessageID == finished.MessageID && finished.Edits == 0 {
		t.Errorf("the started message %q became %q without an edit", started.Text, finished.Text)
	}
	// Whoever forced a build is told how it ended with sound, not only by a silent edit.
	waitFor(t, "a notifying result message", func() bool {
		for _, m := range tg.AllSent() {
			if m.ChatID == alice.ID && containsAll(m.Text, "<b>pass</b>", "#1", "succeeded") && !m.Silent {
				return true
			}
		}
		return false
	})
	b := m.WaitBuild(buildbottest.BuilderPass, 1)
	if bbResult(b) != bbSuccess || b.Property("greeting") != "hello-e2e" {
		t.Errorf("Buildbot's build: result %d, greeting %q; want success with greeting hello-e2e", bbResult(b), b.Property("greeting"))
	}
	if owner := b.Property("owner"); !strings.Contains(owner, "111") {
		t.Errorf("build owner = %q; want it to name alice's telegram id", owner)
	}

	// Bob may not: he is told, and nothing reaches Buildbot.
	before := len(m.Builds())
	tg.SendText(bobChat, bob, "/force")
	denied := waitMessages(t, tg, bob.ID, 1)[0]
	if !strings.Contains(strings.ToLower(denied.Text), "may not") || !strings.Contains(denied.Text, "/force") {
		t.Errorf("bob's answer = %q; want a clear refusal of /force", denied.Text)
	}
	if len(denied.Keyboard) != 0 {
		t.Errorf("bob got a keyboard: %+v", denied.Keyboard)
	}
	tg.SendText(bobChat, bob, "/force pass")
	waitMessages(t, tg, bob.ID, 2)
	if after := len(m.Builds()); after != before {
		t.Errorf("Buildbot has %d builds after bob's /force; want %d", after, before)
	}

	rows := auditRows(t, h)
	var allowed, deniedRows []auditRow
	for _, r := range rows {
		switch {
		case r.UserID == alice.ID && r.Command == "force" && r.Outcome == "allowed":
			allowed = append(allowed, r)
		case r.UserID == bob.ID && r.Command == "force" && r.Outcome == "denied":
			deniedRows = append(deniedRows, r)
		default:
			t.Errorf("unexpected audit row %+v", r)
		}
	}
	if len(allowed) != 1 || allowed[0].Builder != "pass" || !strings.Contains(allowed[0].Args, "greeting=hello-e2e") || allowed[0].ChatID != alice.ID {
		t.Errorf("alice's audit rows = %+v; want one allowed force of pass with greeting=hello-e2e", allowed)
	}
	if len(deniedRows) != 2 || deniedRows[0].ChatID != bob.ID {
		t.Errorf("bob's audit rows = %+v; want his two denied attempts", deniedRows)
	}
	for _, r := range rows {
		if r.At.IsZero() || time.Since(r.At) > time.Hour {
			t.Errorf("audit row without a sensible time: %+v", r)
		}
	}
}

// A keyboard opened by an admin in a group and pressed by someone without the right starts
// nothing, at any step; the presser is told on his screen.
func TestE2EForceKeyboardPressedByOther(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg, h := startWithCI(t, m)

	tg.SendText(team, alice, "/force")
	pick := waitText(t, tg, team.ID, "Which builder should I force?")
	qid := press(t, tg, team, bob, pick, buildbottest.BuilderPass)
	if a := waitAnswer(t, tg, qid); !strings.Contains(a.Text, "may not") {
		t.Errorf("bob's press on the builder: answer %q; want a refusal", a.Text)
	}

	// Alice goes on to the form; bob presses Start on it.
	press(t, tg, team, alice, pick, buildbottest.BuilderPass)
	form := waitMessage(t, tg, team.ID, "the form", func(m telegramtest.Message) bool {
		return m.MessageID == pick.MessageID && strings.Contains(m.Text, "Force <b>pass</b>")
	})
	qid = press(t, tg, team, bob, form, "Start")
	if a := waitAnswer(t, tg, qid); !strings.Contains(a.Text, "may not") && !strings.Contains(a.Text, "someone else") {
		t.Errorf("bob's press on Start: answer %q; want a refusal", a.Text)
	}
	// Barrier: a later command in the group is answered after bob's presses were handled.
	tg.SendText(team, alice, "/help nay")
	waitText(t, tg, team.ID, "/nay")
	if n := len(m.Builds()); n != 0 {
		t.Errorf("Buildbot has %d builds after bob's presses; want none", n)
	}
	if got := waitMessage(t, tg, team.ID, "the form", func(m telegramtest.Message) bool { return m.MessageID == form.MessageID }); got.Text != form.Text {
		t.Errorf("bob's press changed alice's form to %q", got.Text)
	}
	for _, r := range auditRows(t, h) {
		if r.UserID != bob.ID || r.Outcome != "denied" {
			t.Errorf("unexpected audit row %+v; want only bob's denied attempts", r)
		}
	}
	if n := dbCount(t, h, `SELECT count(*) FROM audit_log WHERE user_id = $1 AND outcome = 'denied'`, bob.ID); n != 2 {
		t.Errorf("bob has %d denied audit rows; want 2", n)
	}

	// The form is still alice's: she starts the build.
	press(t, tg, team, alice, form, "Start")
	waitText(t, tg, team.ID, "🚀 Forced <b>pass</b>")
	if b := m.WaitBuild(buildbottest.BuilderPass, 1); bbResult(b) != bbSuccess {
		t.Errorf("alice's build: result %d", bbResult(b))
	}
}

func TestE2EStopCancelsLongBuild(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{SlowSeconds: 600})
	tg, h := startWithCI(t, m)
	chat := telegramtest.PrivateChat(alice)

	m.Force(buildbottest.BuilderSlow, map[string]any{"branch": "main"})
	m.WaitStarted(buildbottest.BuilderSlow, 1)

	tg.SendText(chat, alice, "/stop")
	pick := waitText(t, tg, alice.ID, "Which build should I stop?")
	press(t, tg, chat, alice, pick, "slow #1")
	ask := waitText(t, tg, alice.ID, "Stop ", "slow", "reason")
	if ask.MessageID == pick.MessageID {
		t.Fatalf("the reason question replaced the pick")
	}
	tg.SendText(chat, alice, "e2e says stop")
	confirm := waitText(t, tg, alice.ID, "because “e2e says stop”")
	qid := press(t, tg, chat, alice, confirm, "Stop it")
	waitAnswer(t, tg, qid)
	waitText(t, tg, alice.ID, "asked to stop <b>slow #1</b>", "e2e says stop")

	b := m.WaitBuild(buildbottest.BuilderSlow, 1)
	if bbResult(b) != bbCancelled {
		t.Errorf("slow #1 result = %d; want cancelled (%d)", bbResult(b), bbCancelled)
	}
	// The chat hears that it was cancelled, not only that herald asked.
	waitText(t, tg, alice.ID, "<b>slow</b>", "#1", "was cancelled")

	rows := auditRows(t, h)
	if len(rows) != 1 || rows[0].Command != "stop" || rows[0].Outcome != "allowed" || rows[0].Builder != "slow" || !strings.Contains(rows[0].Args, "e2e says stop") {
		t.Errorf("audit rows = %+v; want alice's allowed stop of slow", rows)
	}
}

// runToggle makes toggle's next build end with o, forces it and waits for Buildbot to finish it.
func runToggle(t *testing.T, m *buildbottest.Master, o buildbottest.Outcome, number int) {
	t.Helper()
	m.SetOutcome(buildbottest.BuilderToggle, o)
	m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
	b := m.WaitBuild(buildbottest.BuilderToggle, number)
	want := map[buildbottest.Outcome]int{buildbottest.Success: bbSuccess, buildbottest.Failure: bbFailure}[o]
	if bbResult(b) != want {
		t.Fatalf("toggle #%d result %d; want %d", number, bbResult(b), want)
	}
}

func TestE2ENotifyProblemRecoveryAcrossRestarts(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg, h := startWithCI(t, m)
	aliceChat := telegramtest.PrivateChat(alice)

	// Alice's private chat hears every finished build: once it has heard build N, herald has
	// handled that event, and the group's messages for it are queued too.
	tg.SendText(aliceChat, alice, "/notify on finished")
	waitMessages(t, tg, alice.ID, 1)
	heard := func(n int) {
		t.Helper()
		waitText(t, tg, alice.ID, "<b>toggle</b>", fmt.Sprintf("#%d</a>", n))
		waitOutboxEmpty(t, h)
	}

	tg.SendText(team, bob, "/notify on problem recovery")
	waitMessages(t, tg, team.ID, 1)

	// Settings survive a restart, proven by what the group then hears.
	h.stop(syscall.SIGTERM)
	h.start()
	runToggle(t, m, buildbottest.Success, 1)
	heard(1)
	runToggle(t, m, buildbottest.Failure, 2)
	heard(2)
	runToggle(t, m, buildbottest.Success, 3)
	heard(3)
	msgs := tg.Messages(team.ID)
	if len(msgs) != 3 || !containsAll(msgs[1].Text, "Problem", "<b>toggle</b>", "#2") || !containsAll(msgs[2].Text, "Recovery", "<b>toggle</b>", "#3") {
		t.Fatalf("the group heard:\n%s\nwant the /notify answer, the problem of #2 and the recovery of #3", dumpMessages(msgs))
	}

	tg.SendText(team, bob, "/notify off")
	waitMessages(t, tg, team.ID, 4)
	h.stop(syscall.SIGTERM)
	h.start()
	runToggle(t, m, buildbottest.Failure, 4)
	heard(4)
	runToggle(t, m, buildbottest.Success, 5)
	heard(5)
	tg.SendText(team, bob, "/notify list")
	msgs = waitMessages(t, tg, team.ID, 5)
	if len(msgs) != 5 || strings.Contains(msgs[4].Text, "problem") {
		t.Errorf("after /notify off and a restart the group heard:\n%s\nwant nothing but the /notify answers, and problem off", dumpMessages(msgs))
	}
}

func TestE2EWatchDeliversOnce(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{SlowSeconds: 8})
	tg, h := startWithCI(t, m)
	chat := telegramtest.PrivateChat(bob) // safe commands: bob may

	m.Force(buildbottest.BuilderSlow, map[string]any{"branch": "main"})
	m.WaitStarted(buildbottest.BuilderSlow, 1)

	tg.SendText(chat, bob, "/watch")
	kb := waitText(t, tg, bob.ID, "Which builder should I watch?")
	press(t, tg, chat, bob, kb, "slow")
	waitText(t, tg, bob.ID, "👀 Watching", "slow")
	tg.SendText(chat, bob, "/watch slow")
	waitText(t, tg, bob.ID, "👀 Already watching", "slow")
	if n := dbCount(t, h, `SELECT count(*) FROM watches`); n != 1 {
		t.Errorf("%d watches after watching twice; want 1", n)
	}

	done := waitText(t, tg, bob.ID, "<b>slow</b>", "#1", "succeeded")
	waitOutboxEmpty(t, h)
	if n := dbCount(t, h, `SELECT count(*) FROM watches`); n != 0 {
		t.Errorf("%d watches after the build finished; want none", n)
	}
	// Barrier: a later command's answer comes after anything else the event caused.
	tg.SendText(chat, bob, "/help watch")
	waitText(t, tg, bob.ID, "/watch NAME")
	if n := countText(tg, bob.ID, "<b>slow</b>", "#1", "succeeded"); n != 1 {
		t.Errorf("the finished message came %d times; want once (first: %q)", n, done.Text)
	}
	// A second build of the builder is not watched.
	m.Force(buildbottest.BuilderSlow, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderSlow, 2)
	tg.SendText(chat, bob, "/help nay")
	waitText(t, tg, bob.ID, "/nay cancels")
	if n := countText(tg, bob.ID, "#2"); n != 0 {
		t.Errorf("bob heard of slow #2 without watching it")
	}
}

// A /force half done goes on after herald restarts: the next button still works.
func TestE2EForceConversationSurvivesRestart(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg, h := startWithCI(t, m)
	chat := telegramtest.PrivateChat(alice)

	form := forceToForm(t, tg, chat, alice, buildbottest.BuilderDocs)
	h.stop(syscall.SIGTERM)
	h.start()
	form = setGreeting(t, tg, chat, alice, form, "after-restart")
	press(t, tg, chat, alice, form, "Start")
	waitText(t, tg, alice.ID, "🚀 Forced <b>docs-site</b>", "greeting=after-restart")
	b := m.WaitBuild(buildbottest.BuilderDocs, 1)
	if b.Property("greeting") != "after-restart" {
		t.Errorf("greeting = %q; want after-restart", b.Property("greeting"))
	}
	waitText(t, tg, alice.ID, "<b>docs-site</b>", "#1", "succeeded")
}

// The read-only commands answer sensibly against a real master, and an unknown command gets
// a short help.
func TestE2EQuickCommands(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{SlowSeconds: 600})
	m.Force(buildbottest.BuilderFail, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderFail, 1)
	m.Force(buildbottest.BuilderSlow, map[string]any{"branch": "main"})
	m.WaitStarted(buildbottest.BuilderSlow, 1)
	tg, _ := startWithCI(t, m)
	chat := telegramtest.PrivateChat(bob)

	cases := []struct {
		name string
		send string
		want []string
	}{
		{"status", "/status", []string{"<b>pass</b>: idle", "<b>docs-site</b>", "<b>toggle</b>", "fail #1</a> ❌ failure", "<b>slow</b>: running", "slow #1</a>, step sleep"}},
		{"status of one builder", "/status fail", []string{"<b>fail</b>: idle", "fail #1</a> ❌ failure"}},
		{"list builders", "/list builders", []string{"• pass", "• fail", "• toggle", "• slow", "• docs-site"}},
		{"list workers", "/list workers", []string{"• w1"}},
		{"last", "/last", []string{"fail #1</a>: failure", "<b>pass</b>: no builds yet"}},
		{"last of a builder without builds", "/last pass", []string{"<b>pass</b>: no builds yet"}},
		{"unknown command", "/frobnicate", []string{"Unknown command /frobnicate", "/help"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg.SendText(chat, bob, c.send)
			msg := waitMessages(t, tg, bob.ID, i+1)[i]
			if !containsAll(msg.Text, c.want...) {
				t.Errorf("%s answered %q; want it to mention %q", c.send, msg.Text, c.want)
			}
			if len(msg.Text) > 3000 {
				t.Errorf("%s answered with %d characters", c.send, len(msg.Text))
			}
		})
	}
}
