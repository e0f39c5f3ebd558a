package main

// Helpers for the end-to-end tests of GitLab CI and Jenkins: the real herald binary
// connected to a fake GitLab (ci/gitlab/gitlabtest) posting its hooks to /ci/<name>/webhook,
// and to a fake Jenkins (ci/jenkins/jenkinstest) whose Notification plugin posts there.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

// The fakes' credentials, given to herald through the environment as a user would; none
// may ever appear in herald's logs.
const (
	glToken    = "glpat-e2eGitLabTokenDoNotLog012345"
	glSecret   = "e2e-gitlab-hook-token-do-not-log"
	glProject  = "acme/app"
	glLib      = "acme/lib" // a second project, followed only when a test says so
	glBuilder  = "app"      // one project followed: its builder is its name
	jkUser     = "herald"
	jkToken    = "11e2eJenkinsApiTokenDoNotLog0123"
	jkSecret   = "e2eJenkinsNotifySecretDoNotLog42"
	jkDeploy   = "app/deploy" // a freestyle job with parameters, in folder app
	jkWebMain  = "app/web/main"
	jkWebDevel = "app/web/develop"
)

// appendConfig adds YAML to the config newHerald wrote: the fakes need herald's address
// for their webhooks, and herald's config the fakes' URLs.
func appendConfig(t *testing.T, h *heraldProc, yaml string) {
	t.Helper()
	f, err := os.OpenFile(h.configPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(yaml); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkNoSecrets fails the test when herald's logs, a message it sent (its text and
// buttons, as sent) or a callback answer hold one of the secrets (name → value).
func checkNoSecrets(t *testing.T, h *heraldProc, tg *telegramtest.Server, secrets map[string]string) {
	t.Helper()
	logs := h.logs.String()
	var sent strings.Builder
	for _, m := range tg.AllSent() {
		sent.WriteString(m.Text)
		sent.WriteString(dumpMessages([]telegramtest.Message{m}))
	}
	for _, m := range tg.CallbackAnswers() {
		sent.WriteString(m.Text)
	}
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("herald's logs contain the %s", name)
		}
		if strings.Contains(sent.String(), secret) {
			t.Errorf("herald told a chat the %s", name)
		}
	}
}

// reqLog records the lines a fake logs, for assertions on the requests herald made.
type reqLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *reqLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *reqLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.lines = append(l.lines, line)
	}
	return len(p), nil
}

func (l *reqLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func (l *reqLog) String() string { return strings.Join(l.all(), "\n") }

// count is how many lines hold every one of parts.
func (l *reqLog) count(parts ...string) int {
	n := 0
	for _, line := range l.all() {
		if containsAll(line, parts...) {
			n++
		}
	}
	return n
}

// pollsDone counts the catch-ups herald finished, by their requests: a catch-up reads what
// changed (a line with changes), delivers it, then reads the workers (a line with
// workers); so a workers request after the n-th changes request says the n-th catch-up
// has delivered everything it found.
func (l *reqLog) pollsDone(changes, workers string) int {
	n, open := 0, false
	for _, line := range l.all() {
		switch {
		case strings.Contains(line, changes):
			open = true
		case strings.Contains(line, workers) && open:
			n++
			open = false
		}
	}
	return n
}

// ---- GitLab ----

// The fake GitLab's requests herald's catch-ups make, as its log shows them.
const (
	glChangesReq = "updated_after="
	glWorkersReq = "GET /api/v4/runners"
)

// glOptions shape one herald + fake GitLab installation.
type glOptions struct {
	poll  string // poll_interval; default 1h, so that what a test sees comes from hooks
	chats string // YAML appended after the ci: section (chats:, authz: …)
	// projects followed; none: acme/app alone, whose builder is then "app"
	projects []string
	clock    func() time.Time // the fake's; nil: the system clock
}

// glEnv is one test's installation: herald following acme/app on a fake GitLab as "gl".
type glEnv struct {
	t   *testing.T
	tg  *telegramtest.Server
	gl  *gitlabtest.Server
	h   *heraldProc
	log *reqLog
}

// newGitLabFake starts a fake GitLab with acme/app (main, develop), acme/lib (main) and a
// runner, posting its hooks to webhookURL with the hook token glSecret; clock nil is the
// system clock.
func newGitLabFake(t *testing.T, webhookURL string, log *reqLog, clock func() time.Time) *gitlabtest.Server {
	t.Helper()
	g, err := gitlabtest.New(gitlabtest.Options{Token: glToken, WebhookURL: webhookURL, WebhookToken: glSecret, Logf: log.logf, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	g.AddProject(glProject, "main", "develop")
	g.AddProject(glLib, "main")
	g.AddRunner(gitlabtest.Runner{ID: 7, Description: "runner-1", Status: "online"})
	return g
}

// glYAML is the ci: entry of a GitLab connection name following projects (none: acme/app).
func glYAML(name, url, poll string, projects ...string) string {
	if len(projects) == 0 {
		projects = []string{glProject}
	}
	return fmt.Sprintf(`  - name: %s
    type: gitlab
    url: %s
    projects: [%s]
    auth: {type: bearer, token: "${HERALD_E2E_GL_TOKEN}"}
    webhook_secret: "${HERALD_E2E_GL_SECRET}"
    poll_interval: %s
`, name, url, strings.Join(projects, ", "), poll)
}

// newGitLabEnv prepares herald and a fake GitLab; it does not start herald.
func newGitLabEnv(t *testing.T, o glOptions) *glEnv {
	t.Helper()
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	e := &glEnv{t: t, tg: tg, h: h, log: &reqLog{}}
	e.gl = newGitLabFake(t, "http://"+h.addr+"/ci/gl/webhook", e.log, o.clock)
	poll := o.poll
	if poll == "" {
		poll = "1h"
	}
	appendConfig(t, h, "ci:\n"+glYAML("gl", e.gl.URL(), poll, o.projects...)+o.chats)
	h.env = append(h.env, "HERALD_E2E_GL_TOKEN="+glToken, "HERALD_E2E_GL_SECRET="+glSecret)
	// Registered after newHerald's cleanup, so it runs first: herald stops before the fake.
	t.Cleanup(func() {
		h.stop(syscall.SIGTERM)
		checkNoSecrets(t, h, tg, map[string]string{"GitLab token": glToken, "GitLab hook token": glSecret})
		e.gl.Close()
		if t.Failed() {
			t.Logf("fake GitLab's log:\n%s", e.log.String())
		}
	})
	return e
}

// startGitLab is newGitLabEnv, then herald started and its first catch-up done, so that
// the pipelines a test plays next reach herald by their hooks (and later polls).
func startGitLab(t *testing.T, o glOptions) *glEnv {
	t.Helper()
	e := newGitLabEnv(t, o)
	e.h.start()
	e.waitPolls(1)
	return e
}

// waitPolls waits until herald finished n catch-ups against the fake, counted since the
// start of the test.
func (e *glEnv) waitPolls(n int) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("herald's catch-up %d at the fake GitLab", n), func() bool {
		return e.log.pollsDone(glChangesReq, glWorkersReq) >= n
	})
}

// glJobs are a pipeline's jobs: compile, then unit, which fails failRuns runs (-1: always).
func glJobs(failRuns int) []gitlabtest.JobSpec {
	return []gitlabtest.JobSpec{{Stage: "build", Name: "compile"}, {Stage: "test", Name: "unit", FailRuns: failRuns}}
}

// play makes a pipeline of acme/app on branch, runs it and ends it (fail: unit fails,
// until retried) and returns its id and number (iid).
func (e *glEnv) play(branch string, fail bool) (int64, int) {
	e.t.Helper()
	return e.playOn(glProject, branch, fail)
}

// playOn is play on another project.
func (e *glEnv) playOn(project, branch string, fail bool) (int64, int) {
	e.t.Helper()
	runs := 0
	if fail {
		runs = 1
	}
	id := e.gl.CreatePipeline(project, branch, gitlabtest.PipelineOptions{Jobs: glJobs(runs)})
	if id == 0 {
		e.t.Fatalf("the fake has no project %s", project)
	}
	if err := e.gl.Start(id); err != nil {
		e.t.Fatal(err)
	}
	if err := e.gl.Finish(id); err != nil {
		e.t.Fatal(err)
	}
	return id, int(e.pipeline(id).IID)
}

// pipeline is a pipeline's state at the fake.
func (e *glEnv) pipeline(id int64) gitlabtest.PipelineState {
	e.t.Helper()
	st, ok := e.gl.Pipeline(id)
	if !ok {
		e.t.Fatalf("the fake has no pipeline %d", id)
	}
	return st
}

// hookAbout reads a Pipeline Hook's pipeline id and status.
func hookAbout(d gitlabtest.Delivery) (id int64, status string) {
	var h struct {
		ObjectAttributes struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
		} `json:"object_attributes"`
	}
	if d.Event != "Pipeline Hook" || json.Unmarshal(d.Body, &h) != nil {
		return 0, ""
	}
	return h.ObjectAttributes.ID, h.ObjectAttributes.Status
}

// waitHook waits until the fake has sent the n-th Pipeline Hook (1: the first) saying
// pipeline id is in status, and returns every delivery up to it. The fake sends its hooks one
// at a time in order, so all earlier ones are answered too.
func (e *glEnv) waitHook(id int64, status string, n int) []gitlabtest.Delivery {
	e.t.Helper()
	var upTo []gitlabtest.Delivery
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := e.gl.WaitFor(ctx, func() bool {
		seen := 0
		ds := e.gl.Deliveries()
		for i, d := range ds {
			if hid, st := hookAbout(d); hid == id && st == status {
				if seen++; seen == n {
					upTo = ds[:i+1]
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		e.t.Fatalf("waiting for the Pipeline Hook of pipeline %d %s: %v", id, status, err)
	}
	return upTo
}

// barrier waits until the hook saying pipeline id is in status (its n-th such) is answered,
// then until herald's outbox is empty: the chats have heard everything those hooks caused.
func (e *glEnv) barrier(id int64, status string, n int) []gitlabtest.Delivery {
	e.t.Helper()
	ds := e.waitHook(id, status, n)
	waitOutboxEmpty(e.t, e.h)
	return ds
}

// checkAnswers fails the test for a sent hook herald did not answer as it should: a
// Pipeline Hook stored (or a known duplicate), a Job Hook ignored, both 200.
func (e *glEnv) checkAnswers(ds []gitlabtest.Delivery) {
	e.t.Helper()
	for _, d := range ds {
		if d.Dropped {
			continue
		}
		ok := d.Status == 200
		switch d.Event {
		case "Pipeline Hook":
			ok = ok && (d.Answer == "ok: 1 events stored\n" || d.Answer == "duplicate delivery\n")
		case "Job Hook":
			ok = ok && d.Answer == "ignored: Job Hook: job progress is read from the API\n"
		}
		if !ok {
			id, st := hookAbout(d)
			e.t.Errorf("delivery %s %s (pipeline %d %s) answered %d %q %s", d.UUID, d.Event, id, st, d.Status, d.Answer, d.Err)
		}
	}
}

// glNum is how a notification names run 1 of pipeline #n of app: "<b>app</b> <a href=…>#n</a>".
func glNum(n int) []string { return glNumOf(glBuilder, n) }

// glNumOf is glNum for another builder.
func glNumOf(builder string, n int) []string {
	return []string{"<b>" + builder + "</b>", fmt.Sprintf(">#%d</a>", n)}
}

// glAttempt is how it names a later run: "<b>app</b> <a href=…>#n (attempt a)</a>".
func glAttempt(n, a int) []string {
	return []string{"<b>" + glBuilder + "</b>", fmt.Sprintf(">#%d (attempt %d)</a>", n, a)}
}

// ---- Jenkins ----

// The fake Jenkins' requests herald's catch-ups make, as its log shows them.
const (
	jkChangesReq = "GET /api/json"
	jkWorkersReq = "GET /computer/api/json"
)

// jkOptions shape one herald + fake Jenkins installation.
type jkOptions struct {
	poll      string // poll_interval; default 5s, Jenkins being followed by polling
	chats     string
	autoStart bool // builds start as soon as queued (a free executor)
	notify    bool // the jobs have the Notification plugin's endpoint
}

// jkEnv is one test's installation: herald following a fake Jenkins as "jk".
type jkEnv struct {
	t   *testing.T
	tg  *telegramtest.Server
	jk  *jenkinstest.Server
	h   *heraldProc
	log *reqLog
}

// jkDeployParams are app/deploy's parameters: the branch, where to, a note and a password.
var jkDeployParams = []jenkinstest.ParamDef{
	{Name: "BRANCH_NAME", Type: jenkinstest.ParamString, Default: "main", Description: "the branch to build"},
	{Name: "TARGET", Type: jenkinstest.ParamChoice, Choices: []string{"staging", "production"}},
	{Name: "NOTE", Type: jenkinstest.ParamString},
	{Name: "DEPLOY_KEY", Type: jenkinstest.ParamPassword, Default: "e2e-deploy-key-never-shown"},
}

// risingClock is a fake's clock: the real time, but always later than the last it told,
// so the builds a test plays in a row are told apart by their times.
type risingClock struct {
	mu   sync.Mutex
	last time.Time
}

func (c *risingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := time.Now()
	if !t.After(c.last.Add(5 * time.Millisecond)) {
		t = c.last.Add(5 * time.Millisecond)
	}
	c.last = t
	return t
}

// newJenkinsFake starts a fake Jenkins (CSRF on) with app/deploy, the multibranch
// pipeline app/web (main, develop) and two nodes; the Notification plugin posts to
// notifyURL when notify.
func newJenkinsFake(t *testing.T, notifyURL string, notify, autoStart bool, log *reqLog) *jenkinstest.Server {
	t.Helper()
	clock := &risingClock{}
	j, err := jenkinstest.New(jenkinstest.Options{
		Username: jkUser, Token: jkToken, CSRF: true, NotifyURL: notifyURL, AutoStart: autoStart, Now: clock.now, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	j.AddJob(jkDeploy, jenkinstest.JobOptions{Params: jkDeployParams, Notify: notify})
	j.AddMultibranch("app/web", notify, "main", "develop")
	j.SetNodes(jenkinstest.Node{Name: "built-in", Executors: 2, Idle: true}, jenkinstest.Node{Name: "agent-1", Executors: 1, Idle: true})
	return j
}

// jkYAML is the ci: entry of a Jenkins connection name.
func jkYAML(name, url, poll string) string {
	return fmt.Sprintf(`  - name: %s
    type: jenkins
    url: %s
    auth: {type: basic, username: %s, password: "${HERALD_E2E_JK_TOKEN}"}
    jobs: ["app/*"]
    poll_interval: %s
    webhook_secret: "${HERALD_E2E_JK_SECRET}"
`, name, url, jkUser, poll)
}

// newJenkinsEnv prepares herald and a fake Jenkins; it does not start herald.
func newJenkinsEnv(t *testing.T, o jkOptions) *jkEnv {
	t.Helper()
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	e := &jkEnv{t: t, tg: tg, h: h, log: &reqLog{}}
	e.jk = newJenkinsFake(t, "http://herald:"+jkSecret+"@"+h.addr+"/ci/jk/webhook", o.notify, o.autoStart, e.log)
	poll := o.poll
	if poll == "" {
		poll = "5s"
	}
	appendConfig(t, h, "ci:\n"+jkYAML("jk", e.jk.URL(), poll)+o.chats)
	h.env = append(h.env, "HERALD_E2E_JK_TOKEN="+jkToken, "HERALD_E2E_JK_SECRET="+jkSecret)
	t.Cleanup(func() {
		h.stop(syscall.SIGTERM)
		checkNoSecrets(t, h, tg, map[string]string{"Jenkins API token": jkToken, "notification secret": jkSecret,
			"password parameter's default": "e2e-deploy-key-never-shown"})
		e.jk.Close()
		if t.Failed() {
			t.Logf("fake Jenkins' log:\n%s", e.log.String())
			for i, n := range e.jk.Notifications() {
				t.Logf("notification %d %s %s dropped=%v status=%d answer=%q %s", i, n.Job, n.Phase, n.Dropped, n.Status, n.Answer, n.Err)
			}
		}
	})
	return e
}

// startJenkins is newJenkinsEnv, then herald started and its first catch-up done.
func startJenkins(t *testing.T, o jkOptions) *jkEnv {
	t.Helper()
	e := newJenkinsEnv(t, o)
	e.h.start()
	e.waitPolls(1)
	return e
}

// waitPolls waits until herald finished n catch-ups against the fake since the test began.
func (e *jkEnv) waitPolls(n int) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("herald's catch-up %d at the fake Jenkins", n), func() bool {
		return e.log.pollsDone(jkChangesReq, jkWorkersReq) >= n
	})
}

// polls is how many catch-ups herald has finished so far.
func (e *jkEnv) polls() int { return e.log.pollsDone(jkChangesReq, jkWorkersReq) }

// play queues a build of job (params: its parameters), starts it and ends it with result;
// it returns the build's number.
func (e *jkEnv) play(job string, params map[string]string, result string) int {
	e.t.Helper()
	q := e.jk.Enqueue(job, jenkinstest.Trigger{Cause: jenkinstest.SCMCause, Params: params, SHA: "0123456789abcdef0123456789abcdef01234567", Branch: "origin/main"})
	n := e.jk.QueuedBuild(q)
	if n == 0 {
		n = e.jk.Start(q)
	}
	e.jk.Finish(job, n, result)
	return n
}

// build is a job's build number n at the fake.
func (e *jkEnv) build(job string, n int) jenkinstest.BuildInfo {
	e.t.Helper()
	for _, b := range e.jk.Builds(job) {
		if b.Number == n {
			return b
		}
	}
	e.t.Fatalf("the fake has no build %s #%d", job, n)
	return jenkinstest.BuildInfo{}
}

// waitJK waits until cond holds of the fake Jenkins' state.
func (e *jkEnv) waitJK(what string, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := e.jk.WaitFor(ctx, cond); err != nil {
		e.t.Fatalf("waiting for %s at the fake Jenkins: %v", what, err)
	}
}

// notesSettled waits until every notification so far is done and returns them.
func (e *jkEnv) notesSettled() []jenkinstest.Notification {
	e.t.Helper()
	var ns []jenkinstest.Notification
	e.waitJK("every notification answered", func() bool {
		ns = e.jk.Notifications()
		for _, n := range ns {
			if !n.Done {
				return false
			}
		}
		return true
	})
	return ns
}

// jkNum is how a notification names build n of job: "<b>job</b> <a href=…>#n</a>".
func jkNum(job string, n int) []string {
	return []string{"<b>" + job + "</b>", fmt.Sprintf(">#%d</a>", n)}
}

// finishedByNumber maps each build number of builder to the derived kinds herald stored
// with its finished event, for CIs whose builds are one run each (Jenkins: a build id is
// job#number, which finishedKinds does not split).
func finishedByNumber(t *testing.T, h *heraldProc, builder string) map[int]string {
	t.Helper()
	conn := dbConn(t, h)
	rows, err := conn.Query(context.Background(), `
		SELECT b.number, COALESCE(e.payload->>'Derived', '')
		FROM ci_events e JOIN builds b ON b.conn = e.conn AND b.build_id = e.build_id
		WHERE b.builder = $1 AND e.kind = 'finished' ORDER BY e.id`, builder)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var n int
		var derived string
		if err := rows.Scan(&n, &derived); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[n]; dup {
			t.Errorf("build #%d of %s has two finished events", n, builder)
		}
		out[n] = derived
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// logBuilds logs the builds herald stored for conn, for a failure's diagnosis.
func logBuilds(t *testing.T, h *heraldProc, conn string) {
	t.Helper()
	rows, err := dbConn(t, h).Query(context.Background(), `
		SELECT build_id, number, attempt, result, started_at, finished_at FROM builds WHERE conn = $1 ORDER BY started_at`, conn)
	if err != nil {
		t.Logf("reading builds: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, result string
		var number, attempt int
		var started, finished *time.Time
		if err := rows.Scan(&id, &number, &attempt, &result, &started, &finished); err != nil {
			t.Logf("reading builds: %v", err)
			return
		}
		t.Logf("build %s #%d attempt %d %s started %v finished %v", id, number, attempt, result, started, finished)
	}
}

// waitForced waits for the /force answer holding parts and one of its two promises: to tell
// the build's start and end, or — when the CI reported the build before herald read the API's
// answer (a webhook is that fast) — that it has started and its end will be told.
func waitForced(t *testing.T, tg *telegramtest.Server, chatID int64, parts ...string) telegramtest.Message {
	t.Helper()
	return waitMessage(t, tg, chatID, fmt.Sprintf("the /force answer with %q", parts), func(m telegramtest.Message) bool {
		return containsAll(m.Text, parts...) && (strings.Contains(m.Text, "I will say here when it starts and how it ends") ||
			strings.Contains(m.Text, "has started; I will say here how it ends"))
	})
}

// waitTold waits until chat was told parts: in a message as it was sent, or as it stands now
// (a start may be told in the edited /force answer, when the CI reported it first).
func waitTold(t *testing.T, tg *telegramtest.Server, chatID int64, parts ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("chat %d told %q", chatID, parts), func() bool {
		for _, m := range tg.AllSent() {
			if m.ChatID == chatID && containsAll(m.Text, parts...) {
				return true
			}
		}
		for _, m := range tg.Messages(chatID) {
			if containsAll(m.Text, parts...) {
				return true
			}
		}
		return false
	})
}

// ungrouped turns grouping off (notifications.group_window: 0): for tests of what each
// event tells on its own (which build is a problem, which a recovery), where a burst of
// them in a few seconds would otherwise arrive as one grouped message (tested by the
// grouping tests).
const ungrouped = "notifications:\n  group_window: 0s\n"
