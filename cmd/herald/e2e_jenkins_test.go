package main

// End-to-end tests of Jenkins (issue 10, "Tests and proof"): the real herald binary, the
// fake Bot API, a fake Jenkins (ci/jenkins/jenkinstest, CSRF crumbs on) followed by polling,
// its Notification plugin posting to /ci/jk/webhook, and a Postgres database per test.

import (
	"encoding/base64"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

// Polling alone (no job posts notifications) makes a problem and a recovery per job and
// branch: app/deploy on main and on develop (its BRANCH_NAME parameter), and the multibranch
// job app/web/main.
func TestE2EJenkinsProblemRecovery(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{chats: subscribe(team.ID, "problem, recovery") + ungrouped})

	main, develop := map[string]string{"BRANCH_NAME": "main"}, map[string]string{"BRANCH_NAME": "develop"}
	d1 := e.play(jkDeploy, main, "SUCCESS")
	d2 := e.play(jkDeploy, main, "FAILURE")
	d3 := e.play(jkDeploy, main, "SUCCESS")
	d4 := e.play(jkDeploy, develop, "SUCCESS")
	d5 := e.play(jkDeploy, develop, "FAILURE")
	d6 := e.play(jkDeploy, develop, "SUCCESS")
	w1 := e.play(jkWebMain, nil, "SUCCESS")
	w2 := e.play(jkWebMain, nil, "FAILURE")
	w3 := e.play(jkWebMain, nil, "SUCCESS")
	// The poll that reads them all: the second one to finish from now.
	e.waitPolls(e.polls() + 2)
	waitOutboxEmpty(t, e.h)

	msgs := e.tg.Messages(team.ID)
	want := []struct {
		headline string
		job      string
		n        int
		branch   string
		result   string
	}{
		{"🔴 <b>Problem</b>", jkDeploy, d2, "main", "failed"},
		{"🟢 <b>Recovery</b>", jkDeploy, d3, "main", "succeeded"},
		{"🔴 <b>Problem</b>", jkDeploy, d5, "develop", "failed"},
		{"🟢 <b>Recovery</b>", jkDeploy, d6, "develop", "succeeded"},
		{"🔴 <b>Problem</b>", jkWebMain, w2, "main", "failed"},
		{"🟢 <b>Recovery</b>", jkWebMain, w3, "main", "succeeded"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("the group heard %d messages; want %d (three problems, three recoveries):\n%s", len(msgs), len(want), dumpMessages(msgs))
	}
	for i, w := range want {
		parts := append(jkNum(w.job, w.n), w.headline, w.result, "Branch: <code>"+w.branch+"</code>")
		if !containsAll(msgs[i].Text, parts...) {
			t.Errorf("message %d = %q; want it to have %q", i, msgs[i].Text, parts)
		}
	}
	deploy := finishedByNumber(t, e.h, jkDeploy)
	web := finishedByNumber(t, e.h, jkWebMain)
	for _, c := range []struct {
		kinds map[int]string
		n     int
		want  string
	}{
		{deploy, d1, `["success"]`}, {deploy, d2, `["failure", "problem", "worse"]`}, {deploy, d3, `["success", "recovery", "better"]`},
		{deploy, d4, `["success"]`}, {deploy, d5, `["failure", "problem", "worse"]`}, {deploy, d6, `["success", "recovery", "better"]`},
		{web, w1, `["success"]`}, {web, w2, `["failure", "problem", "worse"]`}, {web, w3, `["success", "recovery", "better"]`},
	} {
		if k := c.kinds[c.n]; k != c.want {
			t.Errorf("build #%d finished with kinds %s; want %s (deploy: %v, web: %v)", c.n, k, c.want, deploy, web)
		}
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'jk' AND kind = 'finished'`); got != 9 {
		t.Errorf("%d finished events stored; want 9", got)
	}
}

// The README's request budget for Jenkins: "A poll is two requests, however many jobs
// there are (the jobs and their builds in one, the nodes in the other) ... plus, when builds
// finished, one workflow-API request per failed Pipeline build (its failed stage)". Three
// jobs, builds on each, one failed Pipeline build, and three polls after it: the polls'
// two requests each, and that build's stage read once.
func TestE2EJenkinsRequestBudget(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{chats: subscribe(team.ID, "problem, recovery")})

	e.play(jkDeploy, nil, "SUCCESS")
	e.play(jkWebDevel, nil, "SUCCESS")
	e.play(jkWebMain, nil, "SUCCESS")
	failed := e.play(jkWebMain, nil, "FAILURE")
	e.waitPolls(e.polls() + 3)
	waitText(t, e.tg, team.ID, append(jkNum(jkWebMain, failed), "🔴 <b>Problem</b>")...)

	other := map[string]int{}
	for _, r := range e.jk.Requests() {
		switch r {
		case "GET api/json", "GET computer/api/json":
		default:
			other[r]++
		}
	}
	wfapi := fmt.Sprintf("GET job/app/job/web/job/main/%d/wfapi/describe", failed)
	if len(other) != 1 || other[wfapi] != 1 {
		t.Errorf("requests besides the polls' two: %v; want only %s, once", other, wfapi)
	}
}

// basic is an Authorization header value for user and password.
func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// The Notification plugin's posts and herald's answers, verbatim: QUEUED ignored, the
// phases stored; 401 without the secret, with another one or not as Basic, 400 for a body
// herald cannot read, 200 ignored for a job not followed; a post sent again adds nothing.
// Polling is off (1h): the chat hears the build from the posts.
func TestE2EJenkinsNotificationAnswers(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{poll: "1h", notify: true, chats: subscribe(team.ID, "finished")})

	n := e.play(jkDeploy, nil, "FAILURE")
	notes := e.notesSettled()
	waitText(t, e.tg, team.ID, append(jkNum(jkDeploy, n), "failed")...)
	completed := -1
	phases := []string{}
	for i, note := range notes {
		phases = append(phases, note.Phase)
		want := "ok: 1 events stored\n"
		if note.Phase == "QUEUED" {
			want = "ignored: phase QUEUED: herald reports builds when they start\n"
		}
		if note.Status != 200 || note.Answer != want {
			t.Errorf("post %d (%s %s) answered %d %q %s; want 200 %q", i, note.Job, note.Phase, note.Status, note.Answer, note.Err, want)
		}
		if note.Phase == "COMPLETED" {
			completed = i
		}
	}
	if strings.Join(phases, " ") != "QUEUED STARTED COMPLETED FINALIZED" || completed < 0 {
		t.Fatalf("the plugin posted %v; want QUEUED STARTED COMPLETED FINALIZED", phases)
	}

	body := notes[completed].Body
	with := func(auth string) map[string]string {
		h := map[string]string{"Content-Type": "application/json;charset=UTF-8"}
		if auth != "" {
			h["Authorization"] = auth
		}
		return h
	}
	raw := []struct {
		name       string
		header     map[string]string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"no secret", with(""), string(body), 401,
			"bad signature: no Authorization header: the endpoint URL must carry the secret, as https://herald:<secret>@HOST/ci/NAME/webhook\n"},
		{"wrong secret", with(basic("herald", "a guess")), string(body), 401,
			"bad signature: the password in the Authorization header is not the webhook secret\n"},
		{"not Basic", with("Bearer " + jkSecret), string(body), 401,
			"bad signature: the Authorization header is not Basic user:secret\n"},
		{"malformed", with(basic("herald", jkSecret)), `{"name":`, 400,
			"malformed delivery: jenkins: notification: unexpected end of JSON input\n"},
		{"no build", with(basic("herald", jkSecret)), `{"name":"deploy","url":"job/app/job/deploy/"}`, 400,
			"malformed delivery: jenkins: notification: no build object\n"},
		{"QUEUED", with(basic("anyone", jkSecret)), `{"name":"deploy","url":"job/app/job/deploy/","build":{"phase":"QUEUED"}}`, 200,
			"ignored: phase QUEUED: herald reports builds when they start\n"},
		{"a job not followed", with(basic("herald", jkSecret)),
			`{"name":"other","url":"job/other/","build":{"phase":"COMPLETED","number":3,"status":"FAILURE"}}`, 200,
			"ignored: job other is not followed\n"},
	}
	for _, r := range raw {
		if status, answer := postWebhook(t, e.h, "jk", r.header, []byte(r.body)); status != r.wantStatus || answer != r.wantBody {
			t.Errorf("%s: answer %d %q; want %d %q", r.name, status, answer, r.wantStatus, r.wantBody)
		}
	}

	// The plugin posts COMPLETED again.
	e.jk.Redeliver(completed)
	notes = e.notesSettled()
	if again := notes[len(notes)-1]; again.Phase != "COMPLETED" || again.Status != 200 || again.Answer != "ok: 1 events stored\n" {
		t.Errorf("the post sent again: %s %d %q; want COMPLETED 200 \"ok: 1 events stored\\n\"", again.Phase, again.Status, again.Answer)
	}
	waitOutboxEmpty(t, e.h)
	if got := countText(e.tg, team.ID, jkNum(jkDeploy, n)...); got != 1 {
		t.Errorf("%d messages about build #%d; want 1:\n%s", got, n, dumpMessages(e.tg.Messages(team.ID)))
	}
	if got := len(e.tg.Messages(team.ID)); got != 1 {
		t.Errorf("the group heard %d messages; want the one failure:\n%s", got, dumpMessages(e.tg.Messages(team.ID)))
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'jk' AND kind = 'finished'`); got != 1 {
		t.Errorf("%d finished events stored; want 1", got)
	}
}

// Builds that finished while herald was stopped, their posts lost, are reported once after
// it starts again, in the order they ran, and not again at the next poll.
func TestE2EJenkinsMissedWhileStopped(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{notify: true, chats: subscribe(team.ID, "problem, recovery")})

	// A first build through the posts gives herald its cursor.
	n1 := e.play(jkDeploy, nil, "SUCCESS")
	e.notesSettled()
	waitFor(t, "the first build stored", func() bool {
		return dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'jk' AND kind = 'finished'`) == 1
	})

	e.h.stop(syscall.SIGTERM)
	polls := e.polls()
	before := len(e.jk.Notifications())
	e.jk.DropNotifications(1000)
	n2 := e.play(jkDeploy, nil, "FAILURE")
	n3 := e.play(jkDeploy, nil, "SUCCESS")
	for _, note := range e.jk.Notifications()[before:] {
		if !note.Dropped {
			t.Fatalf("post %s %s was not dropped", note.Job, note.Phase)
		}
	}
	e.h.start()

	waitFor(t, "both builds stored", func() bool {
		return dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'jk' AND kind = 'finished'`) >= 3
	})
	// The catch-up at start and the poll after it, which reads the same builds again.
	e.waitPolls(polls + 2)
	waitOutboxEmpty(t, e.h)

	msgs := e.tg.Messages(team.ID)
	if len(msgs) != 2 || !containsAll(msgs[0].Text, append(jkNum(jkDeploy, n2), "🔴 <b>Problem</b>")...) ||
		!containsAll(msgs[1].Text, append(jkNum(jkDeploy, n3), "🟢 <b>Recovery</b>")...) {
		t.Errorf("the group heard:\n%s\nwant the problem of #%d, then the recovery of #%d, once each", dumpMessages(msgs), n2, n3)
	}
	kinds := finishedByNumber(t, e.h, jkDeploy)
	for n, w := range map[int]string{n1: `["success"]`, n2: `["failure", "problem", "worse"]`, n3: `["success", "recovery", "better"]`} {
		if k := kinds[n]; k != w {
			t.Errorf("build #%d finished with kinds %s; want %s (all: %v)", n, k, w, kinds)
		}
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'jk' AND kind = 'finished'`); got != 3 {
		t.Errorf("%d finished events stored; want 3", got)
	}
}

// deployPosts are the accepted POSTs that queue app/deploy.
func (e *jkEnv) deployPosts() []jenkinstest.Post {
	var out []jenkinstest.Post
	for _, p := range e.jk.Posts() {
		if p.Path == "job/app/job/deploy/buildWithParameters" || p.Path == "job/app/job/deploy/build" {
			out = append(out, p)
		}
	}
	return out
}

// /force with a parameter: a choice picked and a string typed; Jenkins gets
// buildWithParameters with them (the password parameter left to its default), and the chat
// hears the build start and end.
func TestE2EJenkinsForceWithParameter(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{autoStart: true, notify: true, chats: forceAuthz})
	chat := telegramtest.PrivateChat(alice)

	e.tg.SendText(chat, alice, "/force "+jkDeploy)
	form := waitText(t, e.tg, alice.ID, "Force <b>app/deploy</b> with:")
	if !containsAll(form.Text, "BRANCH_NAME: <code>main</code>", "TARGET: <code>staging</code>", "NOTE: <code>—</code>") ||
		strings.Contains(dumpMessages([]telegramtest.Message{form}), "DEPLOY_KEY") {
		t.Errorf("the form = %s; want BRANCH_NAME, TARGET and NOTE with their defaults, and no password parameter",
			dumpMessages([]telegramtest.Message{form}))
	}
	press(t, e.tg, chat, alice, form, "TARGET")
	pick := waitMessage(t, e.tg, alice.ID, "the TARGET choice", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Pick <b>TARGET</b>")
	})
	press(t, e.tg, chat, alice, pick, "production")
	form = waitMessage(t, e.tg, alice.ID, "the form with production", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "TARGET: <code>production</code>")
	})
	press(t, e.tg, chat, alice, form, "NOTE")
	waitMessage(t, e.tg, alice.ID, "the question for NOTE", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Send me <b>NOTE</b>")
	})
	e.tg.SendText(chat, alice, "hello-e2e")
	form = waitMessage(t, e.tg, alice.ID, "the form with the note", func(m telegramtest.Message) bool {
		return m.MessageID != form.MessageID && containsAll(m.Text, "NOTE: <code>hello-e2e</code>", "TARGET: <code>production</code>")
	})
	qid := press(t, e.tg, chat, alice, form, "Start")
	waitForced(t, e.tg, alice.ID, "🚀 Forced <b>app/deploy</b>", "NOTE=hello-e2e")
	if a := waitAnswer(t, e.tg, qid); a.Text != "Forced." {
		t.Errorf("Start's callback answer = %q; want \"Forced.\"", a.Text)
	}

	posts := e.deployPosts()
	if len(posts) != 1 {
		t.Fatalf("%d builds of app/deploy asked for at Jenkins; want 1: %+v", len(posts), posts)
	}
	f := posts[0].Form
	if posts[0].Path != "job/app/job/deploy/buildWithParameters" || f.Get("NOTE") != "hello-e2e" || f.Get("TARGET") != "production" ||
		f.Get("BRANCH_NAME") != "main" || f.Has("DEPLOY_KEY") {
		t.Errorf("the POST = %+v; want buildWithParameters with NOTE=hello-e2e, TARGET=production, BRANCH_NAME=main, no DEPLOY_KEY", posts[0])
	}
	builds := e.jk.Builds(jkDeploy)
	if len(builds) != 1 || builds[0].Params["NOTE"] != "hello-e2e" || builds[0].Params["TARGET"] != "production" || !builds[0].Building {
		t.Fatalf("app/deploy's builds = %+v; want one running with NOTE=hello-e2e, TARGET=production", builds)
	}
	n := builds[0].Number
	waitTold(t, e.tg, alice.ID, "<b>app/deploy</b>", fmt.Sprintf("#%d", n), "started")
	e.jk.Finish(jkDeploy, n, "SUCCESS")
	done := waitText(t, e.tg, alice.ID, append(jkNum(jkDeploy, n), "succeeded")...)
	if !strings.Contains(done.Text, "Branch: <code>main</code>") {
		t.Errorf("the result %q does not say main", done.Text)
	}

	// CSRF is on at the fake: the POST was accepted with a crumb herald fetched.
	if got := e.log.count("GET /crumbIssuer/api/json"); got == 0 {
		t.Errorf("herald never asked for a crumb, yet Jenkins took its POST")
	}
	rows := auditRows(t, e.h)
	if len(rows) != 1 || rows[0].Command != "force" || rows[0].Outcome != "allowed" || rows[0].Builder != jkDeploy ||
		!strings.Contains(rows[0].Args, "NOTE=hello-e2e") || strings.Contains(rows[0].Args, "DEPLOY_KEY") ||
		!strings.Contains(rows[0].Detail, fmt.Sprintf("queue item %d", builds[0].QueueID)) {
		t.Errorf("audit rows = %+v; want alice's allowed force of app/deploy naming queue item %d", rows, builds[0].QueueID)
	}
}

// A forced build that waits in Jenkins' queue longer than herald reads the queue item (no
// free executor) is still followed by its queue item: the chat hears it start and end.
func TestE2EJenkinsForceQueuedFollowed(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{chats: forceAuthz}) // polling alone, no free executor
	chat := telegramtest.PrivateChat(alice)

	e.tg.SendText(chat, alice, "/force "+jkDeploy)
	form := waitText(t, e.tg, alice.ID, "Force <b>app/deploy</b> with:")
	press(t, e.tg, chat, alice, form, "Start")
	waitForced(t, e.tg, alice.ID, "🚀 Forced <b>app/deploy</b>")

	// herald has given up reading the item: the audit names the item, not a build.
	rows := auditRows(t, e.h)
	var q int64
	if len(rows) != 1 || rows[0].Outcome != "allowed" {
		t.Fatalf("audit rows = %+v; want alice's allowed force", rows)
	}
	if _, err := fmt.Sscanf(rows[0].Detail, "queue item %d of app/deploy", &q); err != nil || q <= 0 {
		t.Fatalf("the audit's detail %q does not name the waiting queue item (%v)", rows[0].Detail, err)
	}
	if e.jk.QueuedBuild(q) != 0 || len(e.jk.Builds(jkDeploy)) != 0 {
		t.Fatalf("queue item %d became a build before the test started it", q)
	}

	n := e.jk.Start(q)
	waitTold(t, e.tg, alice.ID, "<b>app/deploy</b>", fmt.Sprintf("#%d", n), "started")
	e.jk.Finish(jkDeploy, n, "FAILURE")
	waitText(t, e.tg, alice.ID, append(jkNum(jkDeploy, n), "failed")...)
}

// /stop aborts a running build; the chat hears it ended cancelled.
func TestE2EJenkinsStopAborts(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{notify: true, chats: forceAuthz})
	chat := telegramtest.PrivateChat(alice)

	q := e.jk.Enqueue(jkDeploy, jenkinstest.Trigger{Cause: jenkinstest.UserCause("carol")})
	n := e.jk.Start(q)
	e.notesSettled()
	waitFor(t, "the build's start stored", func() bool {
		return dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'jk' AND kind = 'started'`) == 1
	})

	e.tg.SendText(chat, alice, "/stop")
	pick := waitText(t, e.tg, alice.ID, "Which build should I stop?")
	press(t, e.tg, chat, alice, pick, fmt.Sprintf("app/deploy #%d", n))
	waitText(t, e.tg, alice.ID, "Stop ", "app/deploy", "reason")
	e.tg.SendText(chat, alice, "e2e says stop")
	confirm := waitText(t, e.tg, alice.ID, "because “e2e says stop”")
	waitAnswer(t, e.tg, press(t, e.tg, chat, alice, confirm, "Stop it"))
	waitText(t, e.tg, alice.ID, fmt.Sprintf("asked to stop <b>app/deploy #%d</b>", n), "e2e says stop")

	stops := 0
	for _, p := range e.jk.Posts() {
		if p.Path == fmt.Sprintf("job/app/job/deploy/%d/stop", n) {
			stops++
		}
	}
	if stops != 1 {
		t.Errorf("%d stops of app/deploy #%d at Jenkins; want 1: %+v", stops, n, e.jk.Posts())
	}
	if b := e.build(jkDeploy, n); b.Building || b.Result != "ABORTED" {
		t.Errorf("app/deploy #%d is %+v; want aborted", n, b)
	}
	waitText(t, e.tg, alice.ID, append(jkNum(jkDeploy, n), "was cancelled")...)

	rows := auditRows(t, e.h)
	if len(rows) != 1 || rows[0].Command != "stop" || rows[0].Outcome != "allowed" || rows[0].Builder != jkDeploy || !strings.Contains(rows[0].Args, "e2e says stop") {
		t.Errorf("audit rows = %+v; want alice's allowed stop of app/deploy", rows)
	}
}

// The rebuild button under a failure: refused to a user without the force right; for one
// with it Jenkins queues the job again with the failed build's parameters, and the new
// build's success is told in the chat as a recovery.
func TestE2EJenkinsRebuildButton(t *testing.T) {
	t.Parallel()
	e := startJenkins(t, jkOptions{autoStart: true, notify: true, chats: subscribe(team.ID, "finished, problem, recovery") + forceAuthz})

	n1 := e.play(jkDeploy, map[string]string{"NOTE": "first"}, "SUCCESS")
	n2 := e.play(jkDeploy, map[string]string{"NOTE": "second", "TARGET": "production"}, "FAILURE")
	e.notesSettled()
	failure := waitText(t, e.tg, team.ID, append(jkNum(jkDeploy, n2), "failed")...)
	if !strings.Contains(dumpMessages([]telegramtest.Message{failure}), "[🔁 ") {
		t.Fatalf("the failure has no 🔁 button: %s", dumpMessages([]telegramtest.Message{failure}))
	}
	for _, m := range e.tg.Messages(team.ID) {
		if containsAll(m.Text, jkNum(jkDeploy, n1)...) && strings.Contains(dumpMessages([]telegramtest.Message{m}), "🔁") {
			t.Errorf("the success #%d has a rebuild button", n1)
		}
	}

	qid := press(t, e.tg, team, bob, failure, "🔁")
	if a := waitAnswer(t, e.tg, qid); !strings.Contains(a.Text, "may not") {
		t.Errorf("bob's press: answer %q; want a refusal", a.Text)
	}
	if p := e.deployPosts(); len(p) != 0 {
		t.Fatalf("Jenkins was asked to build after bob's press: %+v", p)
	}

	qid = press(t, e.tg, team, alice, failure, "🔁")
	if a := waitAnswer(t, e.tg, qid); a.Text != "Re-running." {
		t.Errorf("alice's press: answer %q; want \"Re-running.\"", a.Text)
	}
	waitText(t, e.tg, team.ID, "🔁 Rebuild: <b>app/deploy</b>", fmt.Sprintf("#%d", n2), "I will say here how it ends")
	posts := e.deployPosts()
	if len(posts) != 1 || posts[0].Form.Get("NOTE") != "second" || posts[0].Form.Get("TARGET") != "production" || posts[0].Form.Has("DEPLOY_KEY") {
		t.Fatalf("builds asked for at Jenkins = %+v; want one with the failed build's NOTE=second, TARGET=production, no DEPLOY_KEY", posts)
	}
	builds := e.jk.Builds(jkDeploy)
	n3 := builds[len(builds)-1].Number
	if n3 != n2+1 || builds[len(builds)-1].Params["NOTE"] != "second" {
		t.Fatalf("app/deploy's builds = %+v; want #%d with NOTE=second", builds, n2+1)
	}
	e.jk.Finish(jkDeploy, n3, "SUCCESS")
	e.notesSettled()
	waitText(t, e.tg, team.ID, append(jkNum(jkDeploy, n3), "🟢 <b>Recovery</b>", "succeeded")...)
	kinds := finishedByNumber(t, e.h, jkDeploy)
	if k := kinds[n3]; k != `["success", "recovery", "better"]` {
		t.Errorf("the rebuild #%d finished with kinds %q; want a recovery (all: %v)", n3, k, kinds)
	}

	var allowed, denied int
	for _, r := range auditRows(t, e.h) {
		switch {
		case r.UserID == alice.ID && r.Command == "force" && r.Outcome == "allowed" && r.Builder == jkDeploy:
			allowed++
		case r.UserID == bob.ID && r.Outcome == "denied":
			denied++
		default:
			t.Errorf("unexpected audit row %+v", r)
		}
	}
	if allowed != 1 || denied != 1 {
		t.Errorf("audit: %d allowed rebuilds by alice, %d denied to bob; want 1 and 1", allowed, denied)
	}
}
