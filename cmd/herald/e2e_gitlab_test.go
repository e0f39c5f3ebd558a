package main

// End-to-end tests of GitLab CI (issue 10, "Tests and proof"): the real herald binary, the
// fake Bot API, a fake GitLab (ci/gitlab/gitlabtest) posting its hooks with X-Gitlab-Token,
// and a Postgres database per test.

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

// Pipeline Hooks make a problem and a recovery per builder and branch. Two projects are
// followed, so the builders are their full paths: acme/app's main and develop each go
// success, failure, success, and acme/lib's main goes success, failure, success between
// them; only the failures and their fixes are told.
func TestE2EGitLabProblemRecovery(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{projects: []string{glProject, glLib}, chats: subscribe(team.ID, "problem, recovery") + ungrouped})

	_, n1 := e.play("main", false)
	_, l1 := e.playOn(glLib, "main", false)
	_, n2 := e.play("main", true)
	_, l2 := e.playOn(glLib, "main", true)
	_, n3 := e.play("main", false)
	_, n4 := e.play("develop", false)
	_, n5 := e.play("develop", true)
	_, l3 := e.playOn(glLib, "main", false)
	last, n6 := e.play("develop", false)
	e.checkAnswers(e.barrier(last, "success", 1))

	msgs := e.tg.Messages(team.ID)
	want := []struct {
		headline string
		builder  string
		n        int
		branch   string
		result   string
	}{
		{"🔴 <b>Problem</b>", glProject, n2, "main", "failed"},
		{"🔴 <b>Problem</b>", glLib, l2, "main", "failed"},
		{"🟢 <b>Recovery</b>", glProject, n3, "main", "succeeded"},
		{"🔴 <b>Problem</b>", glProject, n5, "develop", "failed"},
		{"🟢 <b>Recovery</b>", glLib, l3, "main", "succeeded"},
		{"🟢 <b>Recovery</b>", glProject, n6, "develop", "succeeded"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("the group heard %d messages; want %d (three problems, three recoveries):\n%s", len(msgs), len(want), dumpMessages(msgs))
	}
	for i, w := range want {
		parts := append(glNumOf(w.builder, w.n), w.headline, w.result, "Branch: <code>"+w.branch+"</code>")
		if !containsAll(msgs[i].Text, parts...) {
			t.Errorf("message %d = %q; want it to have %q", i, msgs[i].Text, parts)
		}
		// The README: a failure names the first failed job, stage / job.
		if w.result == "failed" && !strings.Contains(msgs[i].Text, "test / unit") {
			t.Errorf("the problem %q does not name the failed job test / unit", msgs[i].Text)
		}
	}

	for _, c := range []struct {
		builder string
		want    map[string]string
	}{
		{glProject, map[string]string{
			fmt.Sprintf("#%d/1", n1): `["success"]`,
			fmt.Sprintf("#%d/1", n2): `["failure", "problem", "worse"]`,
			fmt.Sprintf("#%d/1", n3): `["success", "recovery", "better"]`,
			fmt.Sprintf("#%d/1", n4): `["success"]`,
			fmt.Sprintf("#%d/1", n5): `["failure", "problem", "worse"]`,
			fmt.Sprintf("#%d/1", n6): `["success", "recovery", "better"]`,
		}},
		{glLib, map[string]string{
			fmt.Sprintf("#%d/1", l1): `["success"]`,
			fmt.Sprintf("#%d/1", l2): `["failure", "problem", "worse"]`,
			fmt.Sprintf("#%d/1", l3): `["success", "recovery", "better"]`,
		}},
	} {
		got := finishedKinds(t, e.h, c.builder)
		for k, w := range c.want {
			if got[k] != w {
				t.Errorf("%s pipeline %s finished with kinds %s; want %s (all: %v)", c.builder, k, got[k], w, got)
			}
		}
		if n := len(got) - 1; n != len(c.want) { // less the "order" key
			t.Errorf("%d finished events stored for %s; want %d: %v", n, c.builder, len(c.want), got)
		}
	}
}

// glHeader is a raw Pipeline Hook's headers as GitLab sends them, with extra ones (name,
// value, …); a value "" removes the header.
func glHeader(extra ...string) map[string]string {
	h := map[string]string{
		"Content-Type": "application/json", "X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": glSecret,
		"X-Gitlab-Event-UUID": "0b5c1a8e-9d1f-4c3e-8a57-e2e000000001",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(h, extra[i])
		} else {
			h[extra[i]] = extra[i+1]
		}
	}
	return h
}

// The webhook's answers, verbatim: 401 for a missing or wrong X-Gitlab-Token with the reason,
// 400 with the reason for a body herald cannot read, 200 ignored for another hook; and a hook
// sent again (GitLab's Resend request, or the same event under the same X-Gitlab-Event-UUID
// without an Idempotency-Key, as older GitLab sends it) adds nothing: one message.
func TestE2EGitLabWebhookAnswers(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{chats: subscribe(team.ID, "finished")})

	id, n := e.play("main", true)
	ds := e.barrier(id, "failed", 1)
	e.checkAnswers(ds)
	failed := ds[len(ds)-1]
	waitText(t, e.tg, team.ID, append(glNum(n), "failed")...)

	raw := []struct {
		name       string
		header     map[string]string
		body       []byte
		wantStatus int
		wantBody   string
	}{
		{"no token", glHeader("X-Gitlab-Token", ""), failed.Body, 401, "bad signature: no X-Gitlab-Token header\n"},
		{"wrong token", glHeader("X-Gitlab-Token", "a guess"), failed.Body, 401,
			"bad signature: X-Gitlab-Token does not match the connection's webhook secret\n"},
		{"malformed", glHeader(), []byte(`{"object_kind":`), 400,
			"malformed delivery: gitlab: Pipeline Hook: unexpected end of JSON input\n"},
		{"no event header", glHeader("X-Gitlab-Event", ""), failed.Body, 400,
			"malformed delivery: gitlab: no X-Gitlab-Event header\n"},
		{"another hook", glHeader("X-Gitlab-Event", "Push Hook"), []byte(`{"object_kind":"push","ref":"refs/heads/main"}`), 200,
			"ignored: event Push Hook is not followed\n"},
		{"a wrong token for another hook", glHeader("X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", "a guess"),
			[]byte(`{"object_kind":"push"}`), 401, "bad signature: X-Gitlab-Token does not match the connection's webhook secret\n"},
	}
	for _, r := range raw {
		if status, answer := postWebhook(t, e.h, "gl", r.header, r.body); status != r.wantStatus || answer != r.wantBody {
			t.Errorf("%s: answer %d %q; want %d %q", r.name, status, answer, r.wantStatus, r.wantBody)
		}
	}

	// GitLab's Resend request: the same body, X-Gitlab-Event-UUID and Idempotency-Key.
	before := len(e.gl.Deliveries())
	if err := e.gl.Redeliver(failed.UUID); err != nil {
		t.Fatal(err)
	}
	var again gitlabtest.Delivery
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := e.gl.WaitFor(ctx, func() bool {
		ds := e.gl.Deliveries()
		if len(ds) > before {
			again = ds[before]
			return true
		}
		return false
	}); err != nil {
		t.Fatalf("the redelivery was not made: %v", err)
	}
	if again.UUID != failed.UUID || again.Status != 200 || again.Answer != "duplicate delivery\n" {
		t.Errorf("redelivery %s: %d %q; want 200 \"duplicate delivery\\n\"", again.UUID, again.Status, again.Answer)
	}
	// The same event under its X-Gitlab-Event-UUID alone: a delivery herald has not seen by
	// that id, but the same event.
	status, answer := postWebhook(t, e.h, "gl", glHeader("X-Gitlab-Event-UUID", failed.UUID), failed.Body)
	if status != 200 || (answer != "ok: 1 events stored\n" && answer != "duplicate delivery\n") {
		t.Errorf("the same event by its X-Gitlab-Event-UUID: %d %q; want 200, stored or a duplicate", status, answer)
	}
	waitOutboxEmpty(t, e.h)
	if got := countText(e.tg, team.ID, glNum(n)...); got != 1 {
		t.Errorf("%d messages about pipeline #%d; want 1:\n%s", got, n, dumpMessages(e.tg.Messages(team.ID)))
	}
	if got := len(e.tg.Messages(team.ID)); got != 1 {
		t.Errorf("the group heard %d messages; want the one failure:\n%s", got, dumpMessages(e.tg.Messages(team.ID)))
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gl' AND kind = 'finished'`); got != 1 {
		t.Errorf("%d finished events stored; want 1", got)
	}
}

// Pipelines that finished while herald was stopped, their hooks lost, are reported once after
// it starts again, in the order they ran (a failure, then its fix: a problem, then a
// recovery), and not again at the next poll, which reads them again.
func TestE2EGitLabMissedHookCaughtByPolling(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{poll: "10s", chats: subscribe(team.ID, "problem, recovery")})

	// A first pipeline through hooks gives herald its cursor.
	id1, n1 := e.play("main", false)
	e.checkAnswers(e.barrier(id1, "success", 1))

	e.h.stop(syscall.SIGTERM)
	polls := e.log.pollsDone(glChangesReq, glWorkersReq)
	before := len(e.gl.Deliveries())
	e.gl.DropWebhooks(1000)
	_, n2 := e.play("main", true)
	id3, n3 := e.play("main", false)
	ds := e.waitHook(id3, "success", 1)[before:]
	for _, d := range ds {
		if !d.Dropped {
			t.Fatalf("delivery %s %s was not dropped", d.UUID, d.Event)
		}
	}
	e.h.start()

	waitFor(t, "both pipelines stored", func() bool {
		return dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gl' AND kind = 'finished'`) >= 3
	})
	// The catch-up at start and the poll after it: once that one has read the runners, it
	// has delivered all it read again.
	e.waitPolls(polls + 2)
	waitOutboxEmpty(t, e.h)

	msgs := e.tg.Messages(team.ID)
	if len(msgs) != 2 || !containsAll(msgs[0].Text, append(glNum(n2), "🔴 <b>Problem</b>")...) ||
		!containsAll(msgs[1].Text, append(glNum(n3), "🟢 <b>Recovery</b>")...) {
		t.Errorf("the group heard:\n%s\nwant the problem of #%d, then the recovery of #%d, once each", dumpMessages(msgs), n2, n3)
	}
	kinds := finishedKinds(t, e.h, glBuilder)
	want := map[string]string{
		fmt.Sprintf("#%d/1", n1): `["success"]`,
		fmt.Sprintf("#%d/1", n2): `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/1", n3): `["success", "recovery", "better"]`,
	}
	for k, w := range want {
		if kinds[k] != w {
			t.Errorf("pipeline %s finished with kinds %s; want %s (all: %v)", k, kinds[k], w, kinds)
		}
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gl' AND kind = 'finished'`); got != 3 {
		t.Errorf("%d finished events stored; want 3", got)
	}
}

// /force with a variable: the branch picked from the project's, one variable typed; GitLab
// gets a pipeline on that ref with that variable, and the chat hears it start and end.
func TestE2EGitLabForceWithVariable(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{chats: forceAuthz})
	chat := telegramtest.PrivateChat(alice)

	// One project: /force goes straight to its form.
	e.tg.SendText(chat, alice, "/force")
	form := waitText(t, e.tg, alice.ID, "Force <b>app</b> with:")
	if !containsAll(form.Text, "branch*: <code>main</code>", "variables") {
		t.Errorf("the form = %q; want the branch (default main) and the variables", form.Text)
	}
	press(t, e.tg, chat, alice, form, "branch*")
	pick := waitMessage(t, e.tg, alice.ID, "the branch choice", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Pick <b>branch*</b>")
	})
	if len(pick.Keyboard) < 2 || pick.Keyboard[0][0].Text != "main" || pick.Keyboard[1][0].Text != "develop" {
		t.Errorf("the branches offered: %s; want main (the default) first, then develop", dumpMessages([]telegramtest.Message{pick}))
	}
	press(t, e.tg, chat, alice, pick, "develop")
	form = waitMessage(t, e.tg, alice.ID, "the form on develop", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "branch*: <code>develop</code>")
	})
	press(t, e.tg, chat, alice, form, "variables")
	waitMessage(t, e.tg, alice.ID, "the question for the variables", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Send me <b>variables")
	})
	e.tg.SendText(chat, alice, "DEPLOY_ENV=staging")
	form = waitMessage(t, e.tg, alice.ID, "the form with the variable", func(m telegramtest.Message) bool {
		return m.MessageID != form.MessageID && containsAll(m.Text, "DEPLOY_ENV=staging", "branch*: <code>develop</code>")
	})
	before := len(e.gl.Pipelines())
	qid := press(t, e.tg, chat, alice, form, "Start")
	waitForced(t, e.tg, alice.ID, "🚀 Forced <b>app</b>", "DEPLOY_ENV=staging")
	if a := waitAnswer(t, e.tg, qid); a.Text != "Forced." {
		t.Errorf("Start's callback answer = %q; want \"Forced.\"", a.Text)
	}

	ids := e.gl.Pipelines()[before:]
	if len(ids) != 1 {
		t.Fatalf("%d pipelines created at GitLab; want 1", len(ids))
	}
	id := ids[0]
	pl := e.pipeline(id)
	if pl.Source != "api" || pl.Ref != "develop" || len(pl.Variables) != 1 || pl.Variables["DEPLOY_ENV"] != "staging" {
		t.Errorf("pipeline %+v; want one created over the API on develop with DEPLOY_ENV=staging", pl)
	}
	n := int(pl.IID)

	if err := e.gl.Start(id); err != nil {
		t.Fatal(err)
	}
	waitTold(t, e.tg, alice.ID, "<b>app</b>", fmt.Sprintf("#%d", n), "started")
	if err := e.gl.Finish(id); err != nil {
		t.Fatal(err)
	}
	e.checkAnswers(e.barrier(id, "success", 1))
	done := waitText(t, e.tg, alice.ID, append(glNum(n), "succeeded")...)
	if !strings.Contains(done.Text, "Branch: <code>develop</code>") {
		t.Errorf("the result %q does not say develop", done.Text)
	}
	rows := auditRows(t, e.h)
	if len(rows) != 1 || rows[0].Command != "force" || rows[0].Outcome != "allowed" || rows[0].Builder != glBuilder ||
		!strings.Contains(rows[0].Args, "DEPLOY_ENV=staging") || rows[0].Detail != fmt.Sprintf("pipeline %d", id) {
		t.Errorf("audit rows = %+v; want alice's allowed force of app naming pipeline %d", rows, id)
	}
}

// /stop cancels a running pipeline; the chat hears it ended cancelled.
func TestE2EGitLabStopCancels(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{chats: forceAuthz})
	chat := telegramtest.PrivateChat(alice)

	id := e.gl.CreatePipeline(glProject, "main", gitlabtest.PipelineOptions{})
	if err := e.gl.Start(id); err != nil {
		t.Fatal(err)
	}
	n := int(e.pipeline(id).IID)
	e.checkAnswers(e.barrier(id, "running", 1))

	e.tg.SendText(chat, alice, "/stop")
	pick := waitText(t, e.tg, alice.ID, "Which build should I stop?")
	press(t, e.tg, chat, alice, pick, fmt.Sprintf("app #%d", n))
	waitText(t, e.tg, alice.ID, "Stop ", "app", "reason")
	e.tg.SendText(chat, alice, "e2e says stop")
	confirm := waitText(t, e.tg, alice.ID, "because “e2e says stop”")
	waitAnswer(t, e.tg, press(t, e.tg, chat, alice, confirm, "Stop it"))
	waitText(t, e.tg, alice.ID, fmt.Sprintf("asked to stop <b>app #%d</b>", n), "e2e says stop")

	if got := e.log.count(fmt.Sprintf("POST /api/v4/projects/acme%%2Fapp/pipelines/%d/cancel", id)); got != 1 {
		t.Errorf("%d cancels of pipeline %d at GitLab; want 1", got, id)
	}
	if st := e.pipeline(id).Status; st != "canceled" {
		t.Errorf("pipeline %d is %s; want canceled", id, st)
	}
	e.checkAnswers(e.barrier(id, "canceled", 1))
	waitText(t, e.tg, alice.ID, append(glNum(n), "was cancelled")...)

	rows := auditRows(t, e.h)
	if len(rows) != 1 || rows[0].Command != "stop" || rows[0].Outcome != "allowed" || rows[0].Builder != glBuilder || !strings.Contains(rows[0].Args, "e2e says stop") {
		t.Errorf("audit rows = %+v; want alice's allowed stop of app", rows)
	}
}

// The retry button under a failed pipeline: refused to a user without the force right; for
// one with it GitLab retries the pipeline, and its new run (attempt 2) is told in the chat
// as a recovery.
func TestE2EGitLabRetryButton(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{chats: subscribe(team.ID, "finished, problem, recovery") + forceAuthz})

	_, n1 := e.play("main", false)
	id, n2 := e.play("main", true) // unit fails its first run only
	e.checkAnswers(e.barrier(id, "failed", 1))
	failure := waitText(t, e.tg, team.ID, append(glNum(n2), "failed")...)
	if !strings.Contains(dumpMessages([]telegramtest.Message{failure}), "[🔁 ") {
		t.Fatalf("the failure has no 🔁 button: %s", dumpMessages([]telegramtest.Message{failure}))
	}
	for _, m := range e.tg.Messages(team.ID) {
		if containsAll(m.Text, glNum(n1)...) && strings.Contains(dumpMessages([]telegramtest.Message{m}), "🔁") {
			t.Errorf("the success #%d has a retry button", n1)
		}
	}
	retry := fmt.Sprintf("POST /api/v4/projects/acme%%2Fapp/pipelines/%d/retry", id)

	// Bob may not force app: refused on his screen, nothing retried.
	qid := press(t, e.tg, team, bob, failure, "🔁")
	if a := waitAnswer(t, e.tg, qid); !strings.Contains(a.Text, "may not") {
		t.Errorf("bob's press: answer %q; want a refusal", a.Text)
	}
	if got := e.log.count(retry); got != 0 || e.pipeline(id).Runs != 1 {
		t.Fatalf("GitLab retried pipeline %d after bob's press (%d requests)", id, got)
	}

	// Alice may.
	qid = press(t, e.tg, team, alice, failure, "🔁")
	if a := waitAnswer(t, e.tg, qid); a.Text != "Re-running." {
		t.Errorf("alice's press: answer %q; want \"Re-running.\"", a.Text)
	}
	waitText(t, e.tg, team.ID, "🔁 Retry: <b>app</b>", fmt.Sprintf("#%d", n2), "I will say here how it ends")
	if got := e.log.count(retry); got != 1 {
		t.Fatalf("%d retries of pipeline %d at GitLab; want 1", got, id)
	}
	if pl := e.pipeline(id); pl.Runs != 2 || pl.Status != "running" {
		t.Fatalf("pipeline %d after the retry: %+v; want its second run, running", id, pl)
	}
	e.checkAnswers(e.waitHook(id, "running", 2))
	if err := e.gl.Finish(id); err != nil {
		t.Fatal(err)
	}
	e.checkAnswers(e.barrier(id, "success", 1))

	waitText(t, e.tg, team.ID, append(glAttempt(n2, 2), "🟢 <b>Recovery</b>", "succeeded")...)
	kinds := finishedKinds(t, e.h, glBuilder)
	if k := kinds[fmt.Sprintf("#%d/2", n2)]; !strings.Contains(k, `"recovery"`) {
		t.Errorf("run 2 of #%d finished with kinds %q; want a recovery (all: %v)", n2, k, kinds)
	}
	if k := kinds[fmt.Sprintf("#%d/1", n2)]; !strings.Contains(k, `"problem"`) {
		t.Errorf("run 1 of #%d finished with kinds %q; want a problem (all: %v)", n2, k, kinds)
	}

	var allowed, denied int
	for _, r := range auditRows(t, e.h) {
		switch {
		case r.UserID == alice.ID && r.Command == "force" && r.Outcome == "allowed" && r.Builder == glBuilder:
			allowed++
		case r.UserID == bob.ID && r.Outcome == "denied":
			denied++
		default:
			t.Errorf("unexpected audit row %+v", r)
		}
	}
	if allowed != 1 || denied != 1 {
		t.Errorf("audit: %d allowed retries by alice, %d denied to bob; want 1 and 1", allowed, denied)
	}
}

// The README's request budget for hooks: "a Pipeline Hook costs one" request (herald reads
// the pipeline's jobs to know which run the hook is about); a Job Hook costs none. Polling
// is off (1h), so after the first catch-up every request herald makes is a hook's.
func TestE2EGitLabHookRequestBudget(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{chats: subscribe(team.ID, "finished")})
	before := len(e.log.all())

	e.play("main", false)
	last, n := e.play("main", true)
	ds := e.barrier(last, "failed", 1)
	e.checkAnswers(ds)
	waitText(t, e.tg, team.ID, append(glNum(n), "failed")...)

	hooks := 0
	for _, d := range ds {
		if d.Event == "Pipeline Hook" && !d.Dropped {
			hooks++
		}
	}
	if hooks != 6 { // pending, running and the end of each pipeline
		t.Fatalf("%d Pipeline Hooks sent; want 6", hooks)
	}
	var requests []string
	for _, line := range e.log.all()[before:] {
		if strings.HasPrefix(line, "gitlabtest: GET ") || strings.HasPrefix(line, "gitlabtest: POST ") {
			requests = append(requests, line)
		}
	}
	if len(requests) != hooks {
		t.Errorf("%d API requests for %d Pipeline Hooks; want one each:\n%s", len(requests), hooks, strings.Join(requests, "\n"))
	}
}

// A pipeline that failed and was retried to success while herald was stopped, its hooks
// lost: after the start the chat hears the failure (run 1) as a problem, then the retry's
// run (attempt 2) as a recovery, once each (the README: "a failure retried to success while
// herald was stopped is still a failure, then a recovery"). Played with the runs' times
// apart (GitLab's are in milliseconds), and with the fake's clock stopped, so that both runs
// show the same start and end: run 2 is still the run after run 1.
func TestE2EGitLabRetriedWhileStopped(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		clock func() time.Time
	}{
		{"runs apart", (&risingClock{}).now},
		{"same timestamps", stoppedClock(time.Now().Truncate(time.Second))},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			retriedWhileStopped(t, c.clock)
		})
	}
}

// stoppedClock is a fake's clock that always tells at.
func stoppedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

func retriedWhileStopped(t *testing.T, clock func() time.Time) {
	e := startGitLab(t, glOptions{poll: "10s", clock: clock, chats: subscribe(team.ID, "problem, recovery")})

	id1, n1 := e.play("main", false)
	e.checkAnswers(e.barrier(id1, "success", 1))

	e.h.stop(syscall.SIGTERM)
	polls := e.log.pollsDone(glChangesReq, glWorkersReq)
	e.gl.DropWebhooks(1000)
	id, n := e.play("main", true) // unit fails its first run only
	if err := e.gl.Retry(id, gitlabtest.User{}); err != nil {
		t.Fatal(err)
	}
	if err := e.gl.Finish(id); err != nil {
		t.Fatal(err)
	}
	if pl := e.pipeline(id); pl.Runs != 2 || pl.Status != "success" {
		t.Fatalf("pipeline %d: %+v; want its second run, a success", id, pl)
	}
	e.waitHook(id, "success", 1)
	e.h.start()

	waitFor(t, "both runs stored", func() bool {
		return dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gl' AND kind = 'finished'`) >= 3
	})
	e.waitPolls(polls + 2)
	waitOutboxEmpty(t, e.h)

	msgs := e.tg.Messages(team.ID)
	if len(msgs) != 2 || !containsAll(msgs[0].Text, append(glNum(n), "🔴 <b>Problem</b>")...) ||
		!containsAll(msgs[1].Text, append(glAttempt(n, 2), "🟢 <b>Recovery</b>")...) {
		t.Errorf("the group heard:\n%s\nwant the problem of #%d, then the recovery of #%d (attempt 2), once each", dumpMessages(msgs), n, n)
	}
	kinds := finishedKinds(t, e.h, glBuilder)
	want := map[string]string{
		fmt.Sprintf("#%d/1", n1): `["success"]`,
		fmt.Sprintf("#%d/1", n):  `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/2", n):  `["success", "recovery", "better"]`,
	}
	for k, w := range want {
		if kinds[k] != w {
			t.Errorf("run %s finished with kinds %s; want %s (all: %v)", k, kinds[k], w, kinds)
		}
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gl' AND kind = 'finished'`); got != 3 {
		t.Errorf("%d finished events stored; want 3", got)
	}
	if t.Failed() {
		logBuilds(t, e.h, "gl")
	}
}
