package main

// End-to-end tests of GitHub Actions (issue 9, "Tests and proof"): the real herald binary,
// the fake Bot API, a fake GitHub (ci/github/githubtest) posting signed webhooks, and a
// Postgres database per test.

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

// subscribe is the chats: section subscribing chat to events.
func subscribe(chatID int64, events string) string {
	return fmt.Sprintf("chats:\n  - id: %d\n    events: [%s]\n", chatID, events)
}

// finishedKinds maps each run number of builder (attempt: its build id's suffix) to the
// derived kinds herald stored with its finished event, e.g. `["failure", "problem", "worse"]`;
// the key "order" lists the runs in the order they were stored.
func finishedKinds(t *testing.T, h *heraldProc, builder string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT b.number, b.build_id, COALESCE(e.payload->>'Derived', '')
		FROM ci_events e JOIN builds b ON b.conn = e.conn AND b.build_id = e.build_id
		WHERE b.builder = $1 AND e.kind = 'finished' ORDER BY e.id`, builder)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var num int
		var id, derived string
		if err := rows.Scan(&num, &id, &derived); err != nil {
			t.Fatal(err)
		}
		_, attempt, _ := strings.Cut(id, "/")
		key := fmt.Sprintf("#%d/%s", num, attempt)
		if _, dup := out[key]; dup {
			t.Errorf("build %s of %s has two finished events", key, builder)
		}
		out[key] = derived
		out["order"] = strings.TrimSpace(out["order"] + " " + key)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Signed workflow_run deliveries make a problem and a recovery per workflow and branch, and
// a cancelled run is passed over: failure → cancelled → success is a recovery.
func TestE2EGitHubProblemRecovery(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{chats: subscribe(team.ID, "problem, recovery") + ungrouped})

	// main: success, failure (problem), success (recovery).
	_, n1 := e.play("main", "success")
	_, n2 := e.play("main", "failure")
	_, n3 := e.play("main", "success")
	// develop: success, failure (problem), cancelled (never the build before), success
	// (recovery from the failure).
	_, n4 := e.play("develop", "success")
	_, n5 := e.play("develop", "failure")
	_, n6 := e.play("develop", "cancelled")
	_, n7 := e.play("develop", "success")
	e.checkAnswers(e.barrier())

	msgs := e.tg.Messages(team.ID)
	want := []struct {
		headline string
		n        int
		branch   string
		result   string
	}{
		{"🔴 <b>Problem</b>", n2, "main", "failed"},
		{"🟢 <b>Recovery</b>", n3, "main", "succeeded"},
		{"🔴 <b>Problem</b>", n5, "develop", "failed"},
		{"🟢 <b>Recovery</b>", n7, "develop", "succeeded"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("the group heard %d messages; want %d (two problems, two recoveries):\n%s", len(msgs), len(want), dumpMessages(msgs))
	}
	for i, w := range want {
		parts := append(ciNum(w.n), w.headline, w.result, "Branch: <code>"+w.branch+"</code>")
		if !containsAll(msgs[i].Text, parts...) {
			t.Errorf("message %d = %q; want it to have %q", i, msgs[i].Text, parts)
		}
	}
	// The mapping: the failed step is the first failed job and step.
	t.Run("failed step named", func(t *testing.T) {
		for _, i := range []int{0, 2} {
			if !strings.Contains(msgs[i].Text, "Failed step: <code>build / Run tests</code>") {
				t.Errorf("the problem %q does not name the failed step build / Run tests", msgs[i].Text)
			}
		}
	})

	got := finishedKinds(t, e.h, "CI")
	wantKinds := map[string]string{
		fmt.Sprintf("#%d/1", n1): `["success"]`,
		fmt.Sprintf("#%d/1", n2): `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/1", n3): `["success", "recovery", "better"]`,
		fmt.Sprintf("#%d/1", n4): `["success"]`,
		fmt.Sprintf("#%d/1", n5): `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/1", n7): `["success", "recovery", "better"]`,
	}
	for k, w := range wantKinds {
		if got[k] != w {
			t.Errorf("run %s finished with kinds %s; want %s (all: %v)", k, got[k], w, got)
		}
	}
	cancelled := got[fmt.Sprintf("#%d/1", n6)]
	if !strings.Contains(cancelled, `"cancelled"`) || strings.Contains(cancelled, "problem") || strings.Contains(cancelled, "recovery") {
		t.Errorf("the cancelled run #%d finished with kinds %s; want cancelled, neither problem nor recovery", n6, cancelled)
	}
	if n := len(got) - 1; n != 7 { // less the "order" key
		t.Errorf("%d finished events stored for CI; want 7: %v", n, got)
	}
}

// postWebhook sends a raw delivery to herald's webhook of connection conn with the given headers.
func postWebhook(t *testing.T, h *heraldProc, conn string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+h.addr+"/ci/"+conn+"/webhook", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The webhook's answers, verbatim: ping and other events ignored, 401 for a missing or wrong
// signature with the reason, 400 with the reason for a malformed body, and a redelivery (or
// the same event in another delivery) adds nothing: one message.
func TestE2EGitHubWebhookAnswers(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{chats: subscribe(team.ID, "finished")})

	if status, answer, err := e.gh.SendWebhook("ping", e.gh.PingBody()); err != nil || status != 200 || answer != "ignored: ping\n" {
		t.Errorf("ping: %d %q %v; want 200 \"ignored: ping\\n\"", status, answer, err)
	}
	if status, answer, err := e.gh.SendWebhook("push", []byte(`{"ref":"refs/heads/main"}`)); err != nil || status != 200 || answer != "ignored: event push is not followed\n" {
		t.Errorf("push: %d %q %v; want 200 \"ignored: event push is not followed\\n\"", status, answer, err)
	}
	// Signed by the fake with the right secret, but not JSON.
	if status, answer, err := e.gh.SendWebhook("workflow_run", []byte(`{"action":`)); err != nil || status != 400 ||
		answer != "malformed delivery: github: workflow_run: unexpected end of JSON input\n" {
		t.Errorf("malformed workflow_run: %d %q %v; want 400 with the reason", status, answer, err)
	}

	before := len(e.gh.Deliveries())
	runID, n := e.play("main", "failure")
	ds := e.barrier()[before:]
	e.checkAnswers(ds)
	var completed githubtest.Delivery
	for _, d := range ds {
		if d.Event == "workflow_run" && d.Action == "completed" {
			completed = d
		}
	}
	if completed.ID == "" {
		t.Fatalf("no workflow_run completed delivery for run %d", runID)
	}
	waitText(t, e.tg, team.ID, append(ciNum(n), "failed")...)

	// Raw POSTs of the completed delivery's body: unsigned, signed with SHA-1 alone (which
	// herald does not trust), forged, without the sha256= prefix, to an unknown connection.
	body := completed.Body
	headers := func(extra ...string) map[string]string {
		h := map[string]string{"X-GitHub-Event": "workflow_run", "X-GitHub-Delivery": "e2e-raw-1", "Content-Type": "application/json"}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	raw := []struct {
		name       string
		conn       string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"unsigned", "gh", headers(), 401, "bad signature: no X-Hub-Signature-256 header\n"},
		{"legacy SHA-1 alone", "gh", headers("X-Hub-Signature", "sha1="+githubtest.Sign(sha1.New, ghSecret, body)), 401,
			"bad signature: no X-Hub-Signature-256 header\n"},
		{"forged", "gh", headers("X-Hub-Signature-256", "sha256="+githubtest.Sign(sha256.New, "a guess", body)), 401,
			"bad signature: X-Hub-Signature-256 does not match the body\n"},
		{"not sha256=", "gh", headers("X-Hub-Signature-256", githubtest.Sign(sha256.New, ghSecret, body)), 401,
			"bad signature: X-Hub-Signature-256 is not sha256=<hex>\n"},
		{"unknown connection", "nope", headers("X-Hub-Signature-256", "sha256="+githubtest.Sign(sha256.New, ghSecret, body)), 404,
			"no CI connection of that name takes webhooks\n"},
	}
	for _, r := range raw {
		if status, answer := postWebhook(t, e.h, r.conn, r.header, body); status != r.wantStatus || answer != r.wantBody {
			t.Errorf("%s: answer %d %q; want %d %q", r.name, status, answer, r.wantStatus, r.wantBody)
		}
	}

	// GitHub's Redeliver: the same X-GitHub-Delivery and body.
	if status, answer, err := e.gh.Redeliver(completed.ID); err != nil || status != 200 || answer != "duplicate delivery\n" {
		t.Errorf("redelivery: %d %q %v; want 200 \"duplicate delivery\\n\"", status, answer, err)
	}
	// The same event in a delivery of its own: taken, and dropped as a duplicate event.
	if status, answer, err := e.gh.SendWebhook("workflow_run", body); err != nil || status != 200 || answer != "ok: 1 events stored\n" {
		t.Errorf("the same event again: %d %q %v; want 200 \"ok: 1 events stored\\n\"", status, answer, err)
	}
	e.barrier()
	if got := countText(e.tg, team.ID, ciNum(n)...); got != 1 {
		t.Errorf("%d messages about run #%d; want 1:\n%s", got, n, dumpMessages(e.tg.Messages(team.ID)))
	}
	if got := len(e.tg.Messages(team.ID)); got != 1 {
		t.Errorf("the group heard %d messages; want the one failure:\n%s", got, dumpMessages(e.tg.Messages(team.ID)))
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gh' AND kind = 'finished'`); got != 1 {
		t.Errorf("%d finished events stored; want 1", got)
	}
}

// Runs that completed while herald was down, their webhooks lost, are reported once after
// herald starts again, classified in the order they ran (a failure and its fix within one
// second of GitHub's timestamps: a problem, then a recovery), and not again at later polls.
func TestE2EGitHubMissedWebhookCaughtByPolling(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{poll: "10s", chats: subscribe(team.ID, "problem, recovery")})

	// A first run through webhooks gives herald its cursor.
	_, n1 := e.play("main", "success")
	e.checkAnswers(e.barrier())

	e.h.stop(syscall.SIGTERM)
	before := len(e.gh.Deliveries())
	e.gh.DropWebhooks(1000)
	e.freeze()
	_, n2 := e.play("main", "failure")
	_, n3 := e.play("main", "success")
	e.thaw()
	ds := e.gh.Deliveries()[before:]
	if len(ds) == 0 {
		t.Fatal("the runs made no deliveries")
	}
	for _, d := range ds {
		if !d.Dropped {
			t.Fatalf("delivery %s %s/%s was not dropped", d.ID, d.Event, d.Action)
		}
	}
	e.h.start()

	waitFor(t, "both runs stored", func() bool {
		return dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gh' AND kind = 'finished'`) >= 3
	})
	// Two more polls: once the second of them has asked, the first has delivered all it
	// found (a follower polls one catch-up at a time).
	polls := e.gh.Stats().ByRoute[runsRoute]
	e.waitGH("two more polls", func() bool { return e.gh.Stats().ByRoute[runsRoute] >= polls+2 })
	waitOutboxEmpty(t, e.h)

	msgs := e.tg.Messages(team.ID)
	if len(msgs) != 2 || !containsAll(msgs[0].Text, append(ciNum(n2), "🔴 <b>Problem</b>")...) ||
		!containsAll(msgs[1].Text, append(ciNum(n3), "🟢 <b>Recovery</b>")...) {
		t.Errorf("the group heard:\n%s\nwant the problem of #%d, then the recovery of #%d, once each", dumpMessages(msgs), n2, n3)
	}
	kinds := finishedKinds(t, e.h, "CI")
	want := map[string]string{
		fmt.Sprintf("#%d/1", n1): `["success"]`,
		fmt.Sprintf("#%d/1", n2): `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/1", n3): `["success", "recovery", "better"]`,
	}
	for k, w := range want {
		if kinds[k] != w {
			t.Errorf("run %s finished with kinds %s; want %s (all: %v)", k, kinds[k], w, kinds)
		}
	}
	if got := dbCount(t, e.h, `SELECT count(*) FROM ci_events WHERE conn = 'gh' AND kind = 'finished'`); got != 3 {
		t.Errorf("%d finished events stored; want 3", got)
	}
	if st := e.gh.Stats(); st.NotModified == 0 {
		t.Errorf("no poll was answered 304 (Stats %+v): herald does not send If-None-Match", st)
	}
}

// refFieldName is ci/github's internal name of the force form's branch field.
const refFieldName = "@ref"

// /force with an input: the branch picked from the repository, one input typed; GitHub gets
// a dispatch with that ref and input, and the chat hears the run start and end.
func TestE2EGitHubForceWithInput(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{chats: forceAuthz})
	e.gh.SetAutoPlay(&githubtest.AutoPlay{Step: 300 * time.Millisecond})
	chat := telegramtest.PrivateChat(alice)

	// One workflow declares workflow_dispatch: /force goes straight to its form.
	e.tg.SendText(chat, alice, "/force")
	form := waitText(t, e.tg, alice.ID, "Force <b>CI</b> with:")
	if strings.Contains(dumpMessages([]telegramtest.Message{form}), "Lint") {
		t.Errorf("the form offers Lint, which has no workflow_dispatch: %q", form.Text)
	}
	if !containsAll(form.Text, "branch*: <code>main</code>", "Where the run deploys: <code>staging</code>", "note: <code>—</code>") {
		t.Errorf("the form = %q; want the branch (default main) and both inputs with their defaults", form.Text)
	}

	press(t, e.tg, chat, alice, form, "branch*")
	pick := waitMessage(t, e.tg, alice.ID, "the branch choice", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Pick <b>branch*</b>")
	})
	if pick.Keyboard == nil || len(pick.Keyboard) < 2 || pick.Keyboard[0][0].Text != "main" || pick.Keyboard[1][0].Text != "develop" {
		t.Errorf("the branches offered: %s; want main (the default) first, then develop", dumpMessages([]telegramtest.Message{pick}))
	}
	press(t, e.tg, chat, alice, pick, "develop")
	form = waitMessage(t, e.tg, alice.ID, "the form on develop", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "branch*: <code>develop</code>")
	})

	press(t, e.tg, chat, alice, form, "note")
	waitMessage(t, e.tg, alice.ID, "the question for note", func(m telegramtest.Message) bool {
		return m.MessageID == form.MessageID && strings.Contains(m.Text, "Send me <b>note</b>")
	})
	e.tg.SendText(chat, alice, "hello-e2e")
	form = waitMessage(t, e.tg, alice.ID, "the form with the note", func(m telegramtest.Message) bool {
		return m.MessageID != form.MessageID && containsAll(m.Text, "note: <code>hello-e2e</code>", "branch*: <code>develop</code>")
	})
	qid := press(t, e.tg, chat, alice, form, "Start")
	forced := waitText(t, e.tg, alice.ID, "🚀 Forced <b>CI</b>", "note=hello-e2e", "I will say here")
	if strings.Contains(forced.Text, refFieldName) {
		t.Errorf("the chat is shown the form's internal field name %s, which the form called branch: %q", refFieldName, forced.Text)
	}
	if a := waitAnswer(t, e.tg, qid); a.Text != "Forced." {
		t.Errorf("Start's callback answer = %q; want \"Forced.\"", a.Text)
	}

	ds := e.gh.Dispatches()
	if len(ds) != 1 {
		t.Fatalf("%d dispatches at GitHub; want 1: %+v", len(ds), ds)
	}
	d := ds[0]
	if d.Repo != ghRepo || d.WorkflowID != e.ci || d.Ref != "develop" || d.Inputs["note"] != "hello-e2e" || d.Inputs["environment"] != "staging" {
		t.Errorf("dispatch %+v; want CI of %s on develop with note=hello-e2e, environment=staging", d, ghRepo)
	}
	n := e.runNumber(d.RunID)

	// Told as it happens, or afterwards if GitHub's webhook came before its API's answer.
	waitFor(t, "alice told the run started", func() bool { return told(e.tg, alice.ID, "<b>CI</b>", fmt.Sprintf("#%d", n), "started") })
	done := waitText(t, e.tg, alice.ID, append(ciNum(n), "succeeded")...)
	if !strings.Contains(done.Text, "Branch: <code>develop</code>") {
		t.Errorf("the result %q does not say develop", done.Text)
	}
	e.waitGH("the run to complete", func() bool { return e.run(d.RunID).Status == "completed" })

	rows := auditRows(t, e.h)
	if len(rows) != 1 || rows[0].Command != "force" || rows[0].Outcome != "allowed" || rows[0].Builder != "CI" ||
		!strings.Contains(rows[0].Args, "note=hello-e2e") || rows[0].Detail != fmt.Sprintf("run %d", d.RunID) {
		t.Errorf("audit rows = %+v; want alice's allowed force of CI naming run %d", rows, d.RunID)
	}
}

// /stop cancels a running run; the chat hears it ended cancelled.
func TestE2EGitHubStopCancels(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{chats: forceAuthz})
	chat := telegramtest.PrivateChat(alice)

	id := e.gh.QueueRun(ghRepo, e.ci, githubtest.RunOptions{})
	e.gh.StartRun(id, "build", "Run tests")
	n := e.runNumber(id)
	e.checkAnswers(e.barrier())

	e.tg.SendText(chat, alice, "/stop")
	pick := waitText(t, e.tg, alice.ID, "Which build should I stop?")
	press(t, e.tg, chat, alice, pick, fmt.Sprintf("CI #%d", n))
	waitText(t, e.tg, alice.ID, "Stop ", "CI", "reason")
	e.tg.SendText(chat, alice, "e2e says stop")
	confirm := waitText(t, e.tg, alice.ID, "because “e2e says stop”")
	waitAnswer(t, e.tg, press(t, e.tg, chat, alice, confirm, "Stop it"))
	waitText(t, e.tg, alice.ID, fmt.Sprintf("asked to stop <b>CI #%d</b>", n), "e2e says stop")

	if c := e.gh.Cancels(); len(c) != 1 || c[0] != id {
		t.Errorf("cancels at GitHub = %v; want [%d]", c, id)
	}
	// GitHub answers 202 and the run stops a moment later.
	e.waitGH("the run to stop", func() bool { return e.run(id).Status == "completed" })
	if r := e.run(id); r.Conclusion == nil || *r.Conclusion != "cancelled" {
		t.Errorf("run %d is %+v; want completed, cancelled", id, r)
	}
	waitText(t, e.tg, alice.ID, append(ciNum(n), "was cancelled")...)

	rows := auditRows(t, e.h)
	if len(rows) != 1 || rows[0].Command != "stop" || rows[0].Outcome != "allowed" || rows[0].Builder != "CI" || !strings.Contains(rows[0].Args, "e2e says stop") {
		t.Errorf("audit rows = %+v; want alice's allowed stop of CI", rows)
	}
}

// The re-run button under a failure: refused to a user without the force right, and for one
// with it GitHub re-runs the failed jobs; the new attempt is reported in the chat, named, and
// is a recovery.
func TestE2EGitHubRerunButton(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{chats: subscribe(team.ID, "finished, problem, recovery") + forceAuthz})
	e.gh.SetAutoPlay(&githubtest.AutoPlay{Step: 700 * time.Millisecond}) // re-runs succeed, over a second later

	_, n1 := e.play("main", "success")
	id, n2 := e.play("main", "failure")
	e.checkAnswers(e.barrier())
	failure := waitText(t, e.tg, team.ID, append(ciNum(n2), "failed")...)
	if !strings.Contains(dumpMessages([]telegramtest.Message{failure}), "[🔁 Re-run failed jobs]") {
		t.Fatalf("the failure has no re-run button: %s", dumpMessages([]telegramtest.Message{failure}))
	}
	for _, m := range e.tg.Messages(team.ID) {
		if containsAll(m.Text, ciNum(n1)...) && strings.Contains(dumpMessages([]telegramtest.Message{m}), "Re-run") {
			t.Errorf("the success #%d has a re-run button", n1)
		}
	}

	// Bob may not force CI: refused on his screen, nothing re-run, the button stays.
	qid := press(t, e.tg, team, bob, failure, "Re-run failed jobs")
	if a := waitAnswer(t, e.tg, qid); !strings.Contains(a.Text, "may not") {
		t.Errorf("bob's press: answer %q; want a refusal", a.Text)
	}
	if r := e.gh.Reruns(); len(r) != 0 {
		t.Fatalf("GitHub re-ran %v after bob's press", r)
	}

	// Alice may.
	qid = press(t, e.tg, team, alice, failure, "Re-run failed jobs")
	if a := waitAnswer(t, e.tg, qid); a.Text != "Re-running." {
		t.Errorf("alice's press: answer %q; want \"Re-running.\"", a.Text)
	}
	waitText(t, e.tg, team.ID, "🔁 Re-run failed jobs: <b>CI</b> #"+fmt.Sprint(n2), "I will say here how it ends")
	if r := e.gh.Reruns(); len(r) != 1 || r[0] != id {
		t.Fatalf("re-runs at GitHub = %v; want [%d]", r, id)
	}
	e.waitGH("attempt 2 to complete", func() bool { r := e.run(id); return r.RunAttempt == 2 && r.Status == "completed" })
	e.checkAnswers(e.barrier())

	// The new attempt is named in what the chat hears of it.
	waitText(t, e.tg, team.ID, append(ciAttempt(n2, 2), "🟢 <b>Recovery</b>", "succeeded")...)
	kinds := finishedKinds(t, e.h, "CI")
	if k := kinds[fmt.Sprintf("#%d/2", n2)]; !strings.Contains(k, `"recovery"`) {
		t.Errorf("attempt 2 of #%d finished with kinds %q; want a recovery (all: %v)", n2, k, kinds)
	}
	if k := kinds[fmt.Sprintf("#%d/1", n2)]; !strings.Contains(k, `"problem"`) {
		t.Errorf("attempt 1 of #%d finished with kinds %q; want a problem (all: %v)", n2, k, kinds)
	}

	var allowed, denied int
	for _, r := range auditRows(t, e.h) {
		switch {
		case r.UserID == alice.ID && r.Command == "force" && r.Outcome == "allowed" && r.Builder == "CI":
			allowed++
		case r.UserID == bob.ID && r.Outcome == "denied":
			denied++
		default:
			t.Errorf("unexpected audit row %+v", r)
		}
	}
	if allowed != 1 || denied != 1 {
		t.Errorf("audit: %d allowed re-runs by alice, %d denied to bob; want 1 and 1", allowed, denied)
	}
}

// GitHub Enterprise Server: the API under /api/v3, herald's url including it; polling alone
// finds a run, and the commands read the workflows there.
func TestE2EGitHubEnterprise(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{prefix: "/api/v3", poll: "10s", chats: subscribe(team.ID, "finished")})
	if !strings.HasSuffix(e.gh.URL(), "/api/v3") {
		t.Fatalf("the fake's URL %s has no /api/v3", e.gh.URL())
	}

	e.gh.DropWebhooks(1000) // polling alone
	_, n := e.play("main", "failure")
	waitText(t, e.tg, team.ID, append(ciNum(n), "failed")...)

	chat := telegramtest.PrivateChat(bob)
	e.tg.SendText(chat, bob, "/list builders")
	if msg := waitMessages(t, e.tg, bob.ID, 1)[0]; !containsAll(msg.Text, "• CI", "• Lint") {
		t.Errorf("/list builders answered %q; want CI and Lint", msg.Text)
	}
	if st := e.gh.Stats(); st.ByRoute["-"] != 0 {
		t.Errorf("herald made %d requests outside the API's routes (Stats %+v)", st.ByRoute["-"], st)
	}
}

// GitHub may post a run's "requested" webhook before herald has read the answer to the
// dispatch that made it. The chat that forced it still hears it start and end.
func TestE2EGitHubForceFollowedWhenWebhookCameFirst(t *testing.T) {
	t.Parallel()
	e := startGitHub(t, ghOptions{chats: forceAuthz, webhookFirst: true})
	e.gh.SetAutoPlay(&githubtest.AutoPlay{Step: 300 * time.Millisecond})
	chat := telegramtest.PrivateChat(alice) // subscribed to nothing: only the follow-up speaks

	e.tg.SendText(chat, alice, "/force")
	form := waitText(t, e.tg, alice.ID, "Force <b>CI</b> with:")
	press(t, e.tg, chat, alice, form, "Start")
	waitText(t, e.tg, alice.ID, "🚀 Forced <b>CI</b>", "I will say here")
	ds := e.gh.Dispatches()
	if len(ds) != 1 || ds[0].Ref != "main" {
		t.Fatalf("dispatches at GitHub = %+v; want one on main", ds)
	}
	n := e.runNumber(ds[0].RunID)
	e.waitGH("the run to complete", func() bool { return e.run(ds[0].RunID).Status == "completed" })
	e.checkAnswers(e.barrier())

	// In whatever words: the run's start may be told as it happens or afterwards.
	run := []string{"<b>CI</b>", fmt.Sprintf("#%d", n)}
	msgs := e.tg.Messages(alice.ID)
	if !told(e.tg, alice.ID, append(run, "started")...) {
		t.Errorf("alice was not told that CI #%d started:\n%s", n, dumpMessages(msgs))
	}
	if countWith(msgs, append(run, "succeeded")...) != 1 {
		t.Errorf("alice was not told once that CI #%d succeeded:\n%s", n, dumpMessages(msgs))
	}
}

// The same for a re-run: its "requested" webhook may come before herald has read the answer
// to the re-run, and the chat that pressed the button still hears how it ended.
func TestE2EGitHubRerunFollowedWhenWebhookCameFirst(t *testing.T) {
	t.Parallel()
	// Alice's chat hears failures only: the re-run's success reaches it by the follow-up.
	e := startGitHub(t, ghOptions{chats: subscribe(alice.ID, "failure") + forceAuthz, webhookFirst: true})
	e.gh.SetAutoPlay(&githubtest.AutoPlay{Step: 300 * time.Millisecond})
	chat := telegramtest.PrivateChat(alice)

	id, n := e.play("main", "failure")
	e.checkAnswers(e.barrier())
	failure := waitText(t, e.tg, alice.ID, append(ciNum(n), "failed")...)
	press(t, e.tg, chat, alice, failure, "Re-run failed jobs")
	waitText(t, e.tg, alice.ID, "🔁 Re-run failed jobs: <b>CI</b> #"+fmt.Sprint(n), "I will say here how it ends")
	e.waitGH("attempt 2 to complete", func() bool { r := e.run(id); return r.RunAttempt == 2 && r.Status == "completed" })
	e.checkAnswers(e.barrier())

	if got := countText(e.tg, alice.ID, append(ciAttempt(n, 2), "succeeded")...); got != 1 {
		t.Errorf("alice was told %d times that attempt 2 of CI #%d succeeded; want once:\n%s", got, n, dumpMessages(e.tg.Messages(alice.ID)))
	}
}
