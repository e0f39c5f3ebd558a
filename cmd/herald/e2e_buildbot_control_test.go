package main

// End-to-end tests of the rest of Buildbot's bot (issue 14, section 3) with the real binary
// and a real Buildbot master: /worker and /scheduler seen on the master, the Rebuild button,
// /hello, /shutdown's answer, and default chats named by @channelusername.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
	"github.com/herald-ci/herald/commands"
)

// controlAuthz lets alice, and only alice, control workers and schedulers and force builds.
var controlAuthz = fmt.Sprintf(`authz:
  rules:
    - commands: [force, stop, worker, scheduler]
      allow: [%d]
`, alice.ID)

// /worker and /scheduler act on the master, as its REST API reads back; bob, who may not,
// is refused and audited and the master is left alone.
func TestE2EBuildbotWorkerAndSchedulerControl(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{Workers: 2})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciYAML(m) + controlAuthz})
	h.start()

	tg.SendText(team, alice, "/worker pause w1 disk almost full")
	waitText(t, tg, team.ID, "⏸ @alice paused worker <b>w1</b>: it starts no new builds")
	waitFor(t, "w1 paused on the master", func() bool { return m.Worker("w1").Paused })
	if m.Worker("w2").Paused {
		t.Error("w2 was paused too")
	}

	tg.SendText(team, bob, "/worker unpause w1")
	waitText(t, tg, team.ID, "You may not use /worker.")
	tg.SendText(team, bob, "/scheduler disable force")
	waitText(t, tg, team.ID, "You may not use /scheduler.")

	tg.SendText(team, alice, "/worker unpause w1")
	waitText(t, tg, team.ID, "▶️ @alice unpaused worker <b>w1</b>")
	waitFor(t, "w1 unpaused on the master", func() bool { return !m.Worker("w1").Paused })

	if !m.SchedulerEnabled(buildbottest.Scheduler) {
		t.Fatal("bob's refused /scheduler disable reached the master")
	}
	tg.SendText(team, alice, "/scheduler disable force")
	waitText(t, tg, team.ID, "⏸ @alice disabled scheduler <b>force</b>")
	if m.SchedulerEnabled(buildbottest.Scheduler) {
		t.Error("scheduler force still enabled on the master after /scheduler disable")
	}
	tg.SendText(team, alice, "/scheduler enable force")
	waitText(t, tg, team.ID, "▶️ @alice enabled scheduler <b>force</b>")
	if !m.SchedulerEnabled(buildbottest.Scheduler) {
		t.Error("scheduler force still disabled on the master after /scheduler enable")
	}

	// A graceful stop: the idle worker disconnects; after that herald says it cannot.
	tg.SendText(team, alice, "/worker stop w2")
	waitText(t, tg, team.ID, "⏹ @alice asked worker <b>w2</b> to stop")
	waitFor(t, "w2 disconnected from the master", func() bool { return !m.Worker("w2").Connected })
	tg.SendText(team, alice, "/worker pause w2")
	waitText(t, tg, team.ID, "worker w2 is not connected to main: Buildbot can pause only a connected worker")
	tg.SendText(team, alice, "/worker pause w9")
	waitText(t, tg, team.ID, "no worker w9 on main")

	var rows []string
	for _, a := range auditRows(t, h) {
		rows = append(rows, fmt.Sprintf("%d %s %s %s", a.UserID, a.Command, a.Args, a.Outcome))
	}
	want := []string{
		fmt.Sprintf("%d worker pause w1 disk almost full allowed", alice.ID),
		fmt.Sprintf("%d worker unpause w1 denied", bob.ID),
		fmt.Sprintf("%d scheduler disable force denied", bob.ID),
		fmt.Sprintf("%d worker unpause w1 allowed", alice.ID),
		fmt.Sprintf("%d scheduler disable force allowed", alice.ID),
		fmt.Sprintf("%d scheduler enable force allowed", alice.ID),
		fmt.Sprintf("%d worker stop w2 allowed", alice.ID),
		fmt.Sprintf("%d worker pause w2 failed", alice.ID),
		fmt.Sprintf("%d worker pause w9 failed", alice.ID),
	}
	if !slices.Equal(rows, want) {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// /hello greets as Buildbot's bot does; /shutdown says why herald cannot, and what it offers.
func TestE2EHelloAndShutdown(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciYAML(m)})
	h.start()

	tg.SendText(team, bob, "/hello")
	hello := waitMessage(t, tg, team.ID, "a greeting", func(msg telegramtest.Message) bool { return strings.Contains(msg.Text, "Bob") })
	if !slices.Contains(commands.Greetings("Bob"), hello.Text) {
		t.Errorf("/hello = %q, not one of %q", hello.Text, commands.Greetings("Bob"))
	}
	tg.SendText(team, bob, "/shutdown")
	waitText(t, tg, team.ID, "I cannot shut the build master down: Buildbot's REST API, which I talk to, offers no master shutdown",
		"buildbot cleanshutdown BASEDIR", "/worker pause NAME", "/worker stop NAME", "/scheduler disable NAME", "/stop")
}

// A failed Buildbot build's message has a Rebuild button; bob may not press it, alice may,
// and the master runs the build again, which the chat hears the end of.
func TestE2EBuildbotRebuildButton(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciConfig(m, team.ID, "failure, success") + forceAuthz})
	h.start()

	m.SetOutcome(buildbottest.BuilderToggle, buildbottest.Failure)
	first := waitRequest(t, m, m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "release", "greeting": "hi"}), true)
	failure := waitMessage(t, tg, team.ID, "the failure with a Rebuild button", func(msg telegramtest.Message) bool {
		return containsAll(msg.Text, "<b>toggle</b>", buildLink(first.Number)) && strings.Contains(dumpMessages([]telegramtest.Message{msg}), "[🔁 Rebuild]")
	})

	qid := press(t, tg, team, bob, failure, "Rebuild")
	if a := waitAnswer(t, tg, qid); !strings.Contains(a.Text, "may not") {
		t.Errorf("bob's press: answer %q; want a refusal", a.Text)
	}
	if n := len(m.Builds()); n != 1 {
		t.Fatalf("%d builds on the master after bob's press; want 1", n)
	}

	m.SetOutcome(buildbottest.BuilderToggle, buildbottest.Success)
	qid = press(t, tg, team, alice, failure, "Rebuild")
	if a := waitAnswer(t, tg, qid); a.Text != "Re-running." {
		t.Errorf("alice's press: answer %q; want \"Re-running.\"", a.Text)
	}
	waitText(t, tg, team.ID, fmt.Sprintf("🔁 Rebuild: <b>toggle</b> #%d", first.Number), "I will say here how it ends")
	second := m.WaitBuild(buildbottest.BuilderToggle, first.Number+1)
	if second.Property("branch") != "release" || second.Property("greeting") != "hi" {
		t.Errorf("the rebuild ran branch %q greeting %q; want the first build's release, hi", second.Property("branch"), second.Property("greeting"))
	}
	waitText(t, tg, team.ID, "<b>toggle</b>", buildLink(second.Number))

	// One-shot in the chat: a second press starts nothing more.
	qid = press(t, tg, team, alice, failure, "Rebuild")
	if a := waitAnswer(t, tg, qid); a.Text != "Already re-run from this chat." {
		t.Errorf("second press: answer %q", a.Text)
	}
	if n := len(m.Builds()); n != 2 {
		t.Errorf("%d builds on the master after the second press; want 2", n)
	}
	var rows []string
	for _, a := range auditRows(t, h) {
		rows = append(rows, fmt.Sprintf("%d %s %s", a.UserID, a.Command, a.Outcome))
	}
	want := []string{
		fmt.Sprintf("%d force denied", bob.ID),
		fmt.Sprintf("%d force allowed", alice.ID),
		fmt.Sprintf("%d force failed", alice.ID),
	}
	if !slices.Equal(rows, want) {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// chats[].id may be "@channelusername": herald resolves it with getChat, stores it by id and
// notifies the channel; a name Telegram does not know is logged and shown by /readyz, and the
// rest of herald works. After a restart the stored id is used.
func TestE2EChatByChannelUsername(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	channel := telegramtest.Chat{ID: -1001000000444, Type: "channel", Title: "Builds", Username: "herald_builds"}
	tg.AddChat(channel)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciYAML(m) + `chats:
  - id: "@Herald_Builds"
    events: [finished]
  - id: "@no_such_channel"
    events: [finished]
`})
	h.start()

	b := waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true)
	waitText(t, tg, channel.ID, "<b>pass</b>", buildLink(b.Number))

	body := readyzBody(t, h.addr)
	if !strings.Contains(body, "@no_such_channel: Telegram does not know this chat") {
		t.Errorf("/readyz does not name the unknown chat:\n%s", body)
	}
	if !strings.Contains(h.logs.String(), "Telegram does not know this chat") {
		t.Error("the log does not say the chat is unknown")
	}
	var id int64
	if err := dbConn(t, h).QueryRow(context.Background(), `SELECT chat_id FROM chat_usernames WHERE username = 'herald_builds'`).Scan(&id); err != nil || id != channel.ID {
		t.Fatalf("stored chat id %d, %v; want %d", id, err, channel.ID)
	}
	var typ string
	if err := dbConn(t, h).QueryRow(context.Background(), `SELECT type FROM chats WHERE id = $1`, channel.ID).Scan(&typ); err != nil || typ != "channel" {
		t.Errorf("chat type %q, %v; want channel", typ, err)
	}

	// Renamed on Telegram: the stored id still reaches it after a restart.
	h.stop(syscall.SIGTERM)
	tg.AddChat(telegramtest.Chat{ID: channel.ID, Type: "channel", Username: "herald_builds_old"})
	h.start()
	b = waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true)
	waitText(t, tg, channel.ID, "<b>pass</b>", buildLink(b.Number))
	if body := readyzBody(t, h.addr); strings.Contains(body, "Herald_Builds") {
		t.Errorf("after the restart herald asked Telegram again instead of using the stored id:\n%s", body)
	}
}

// readyzBody is what /readyz answers.
func readyzBody(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}
