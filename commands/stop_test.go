package commands_test

import (
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

func runningSlow(e *env) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running = []ci.Build{
		{Conn: "bb", ID: "901", Number: 7, Builder: "slow", CurrentStep: "sleep", URL: "http://bb/builders/2/builds/7"},
		{Conn: "bb", ID: "902", Number: 3, Builder: "docs-site"},
	}
}

func TestStopFlow(t *testing.T) {
	e := newEnv(t)
	runningSlow(e)
	res := e.send(groupID, admin, "/stop")
	mustContain(t, res, "Which build should I stop?", "slow #7 (sleep)", "docs-site #3")
	res = e.press(groupID, admin, res, "slow #7")
	mustContain(t, res, "Stop <a href=\"http://bb/builders/2/builds/7\">slow #7</a>?", "Send me the reason")

	// Restart between the question and the answer.
	e.restart(testSpec())
	res = e.send(groupID, admin, "wrong branch")
	mustContain(t, res, "Stop <b>slow #7</b> because “wrong branch”?")
	done := e.press(groupID, admin, res, "⏹ Stop it")
	mustContain(t, done, "asked to stop <b>slow #7</b>", "Reason: wrong branch")
	if len(e.stopped) != 1 || e.stopped[0] != "901: wrong branch (by U, telegram 123456)" {
		t.Fatalf("stopped: %q", e.stopped)
	}
	mustContain(t, e.press(groupID, admin, res, "⏹ Stop it"), "expired")
	if len(e.stopped) != 1 {
		t.Fatal("stopped twice")
	}
	log := e.audit()
	if len(log) != 1 || log[0].Command != "stop" || log[0].Outcome != "allowed" || log[0].Builder != "slow" ||
		log[0].Args != "build=901 #7 reason=wrong branch" {
		t.Fatalf("audit: %+v", log)
	}
}

func TestStopWithoutReasonFromNotifierButton(t *testing.T) {
	e := newEnv(t)
	runningSlow(e)
	// The notifier's Stop button on a "started" message.
	notice := commands.Response{Replies: []commands.Reply{{Keyboard: [][]commands.Button{{{Text: "Stop", Data: commands.StopData("bb", "901")}}}}}}
	res := e.press(groupID, admin, notice, "Stop")
	if res.Replies[0].Edit {
		t.Fatal("the notification's text must stay; the question is a new message")
	}
	res = e.press(groupID, admin, res, "⏹ Stop without a reason")
	mustContain(t, res, "asked to stop")
	if len(e.stopped) != 1 || e.stopped[0] != "901: no reason given (by U, telegram 123456)" {
		t.Fatalf("stopped: %q", e.stopped)
	}
}

func TestStopDenied(t *testing.T) {
	e := newEnv(t)
	runningSlow(e)
	res := e.send(groupID, docsman, "/stop")
	mustContain(t, res, "You may not use /stop.")
	notice := commands.Response{Replies: []commands.Reply{{Keyboard: [][]commands.Button{{{Text: "Stop", Data: commands.StopData("bb", "901")}}}}}}
	res = e.press(groupID, nobody, notice, "Stop")
	if res.Notice != "You may not use /stop." || len(res.Replies) != 0 {
		t.Fatalf("press: %s", dump(res))
	}
	if len(e.stopped) != 0 {
		t.Fatal("a denied user stopped a build")
	}
	if n := len(e.audit()); n != 2 {
		t.Fatalf("audit rows: %d", n)
	}
}

func TestStopFinishedBuild(t *testing.T) {
	e := newEnv(t)
	runningSlow(e)
	res := e.send(groupID, admin, "/stop slow")
	e.mu.Lock()
	e.running[0].Complete, e.running[0].Result = true, ci.ResultSuccess
	e.mu.Unlock()
	mustContain(t, e.press(groupID, admin, res, "slow #7"), "has already finished: success")
	e.mu.Lock()
	e.running = nil
	e.mu.Unlock()
	mustContain(t, e.press(groupID, admin, res, "slow #7"), "expired")
	mustContain(t, e.send(groupID, admin, "/stop"), "No running build you may stop.")
}
