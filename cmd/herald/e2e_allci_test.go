package main

// One herald following every kind of CI at once (issue 10, "Tests and proof"): a real
// Buildbot master, a fake GitHub, a fake GitLab and a fake Jenkins, each with its webhooks
// or stream, in one config.

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

// One failure on each CI: the subscribed chat hears four messages, each naming its
// connection before the builder ("bb/fail", "gh/CI", "gl/app", "jk/app/deploy"), as herald
// does when it follows more than one connection; and nothing else.
func TestE2EAllCIAtOnce(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})

	ghLog, glLog, jkLog := &syncBuffer{}, &reqLog{}, &reqLog{}
	gh, err := githubtest.New(githubtest.Options{
		Token: ghToken, WebhookURL: "http://" + h.addr + "/ci/gh/webhook", WebhookSecret: ghSecret, Log: ghLog,
	})
	if err != nil {
		t.Fatal(err)
	}
	gh.AddRepo(ghRepo, "main", "develop")
	ciID := gh.AddWorkflow(ghRepo, ".github/workflows/ci.yml", "CI", ciWorkflow)
	gl := newGitLabFake(t, "http://"+h.addr+"/ci/gl/webhook", glLog, nil)
	jk := newJenkinsFake(t, "http://herald:"+jkSecret+"@"+h.addr+"/ci/jk/webhook", true, false, jkLog)

	appendConfig(t, h, fmt.Sprintf(`ci:
  - name: bb
    type: buildbot
    url: %s
    poll_interval: 2s
  - name: gh
    type: github
    url: %s
    repos: [%s]
    auth: {type: bearer, token: "${HERALD_E2E_GH_TOKEN}"}
    webhook_secret: "${HERALD_E2E_GH_SECRET}"
    poll_interval: 1h
`, m.URL(), gh.URL(), ghRepo)+glYAML("gl", gl.URL(), "1h")+jkYAML("jk", jk.URL(), "5s")+subscribe(team.ID, "finished"))
	h.env = append(h.env,
		"HERALD_E2E_GH_TOKEN="+ghToken, "HERALD_E2E_GH_SECRET="+ghSecret,
		"HERALD_E2E_GL_TOKEN="+glToken, "HERALD_E2E_GL_SECRET="+glSecret,
		"HERALD_E2E_JK_TOKEN="+jkToken, "HERALD_E2E_JK_SECRET="+jkSecret)
	t.Cleanup(func() {
		h.stop(syscall.SIGTERM)
		checkNoSecrets(t, h, tg, map[string]string{
			"GitHub token": ghToken, "GitHub webhook secret": ghSecret, "GitLab token": glToken,
			"GitLab hook token": glSecret, "Jenkins API token": jkToken, "notification secret": jkSecret,
		})
		gh.Close()
		gl.Close()
		jk.Close()
		if t.Failed() {
			t.Logf("fake GitHub's log:\n%s\nfake GitLab's log:\n%s\nfake Jenkins' log:\n%s", ghLog.String(), glLog.String(), jkLog.String())
		}
	})
	h.start()
	gle := &glEnv{t: t, tg: tg, gl: gl, h: h, log: glLog}
	jke := &jkEnv{t: t, tg: tg, jk: jk, h: h, log: jkLog}
	gle.waitPolls(1)
	jke.waitPolls(1)

	// One failure on each.
	bb := waitRequest(t, m, m.Force(buildbottest.BuilderFail, map[string]any{"branch": "main"}), true).Number
	run := gh.QueueRun(ghRepo, ciID, githubtest.RunOptions{Branch: "main", Message: "Change on main"})
	gh.StartRun(run, "build", "Run tests")
	gh.CompleteRun(run, "failure", "build", "Run tests")
	ghe := &ghEnv{t: t, tg: tg, gh: gh, h: h, ghLog: ghLog}
	ghNum := ghe.runNumber(run)
	pipeline, glNum := gle.play("main", true)
	jkNum := jke.play(jkDeploy, nil, "FAILURE")

	want := []struct {
		conn, builder string
		n             int
	}{
		{"bb", buildbottest.BuilderFail, bb},
		{"gh", "CI", ghNum},
		{"gl", glBuilder, glNum},
		{"jk", jkDeploy, jkNum},
	}
	for _, w := range want {
		waitText(t, tg, team.ID, "<b>"+w.conn+"/"+w.builder+"</b>", fmt.Sprintf(">#%d</a>", w.n), "failed")
	}

	// Everything each CI sent is answered, and a poll of each read it all again.
	ghe.checkAnswers(ghe.settled())
	gle.checkAnswers(gle.waitHook(pipeline, "failed", 1))
	jke.notesSettled()
	jke.waitPolls(jke.polls() + 2)
	waitFor(t, "the Buildbot build stored", func() bool {
		return dbCount(t, h, `SELECT count(*) FROM ci_events WHERE conn = 'bb' AND kind = 'finished'`) == 1
	})
	waitOutboxEmpty(t, h)

	msgs := tg.Messages(team.ID)
	if len(msgs) != len(want) {
		t.Errorf("the group heard %d messages; want %d, one failure per CI:\n%s", len(msgs), len(want), dumpMessages(msgs))
	}
	for _, w := range want {
		named := "<b>" + w.conn + "/" + w.builder + "</b>"
		if got := countText(tg, team.ID, named); got != 1 {
			t.Errorf("%d messages name %s; want 1:\n%s", got, named, dumpMessages(msgs))
		}
	}
	for _, msg := range msgs {
		if !strings.Contains(msg.Text, "failed") {
			t.Errorf("message %q is not a failure", msg.Text)
		}
	}
	for _, conn := range []string{"bb", "gh", "gl", "jk"} {
		if got := dbCount(t, h, `SELECT count(*) FROM ci_events WHERE conn = $1 AND kind = 'finished'`, conn); got != 1 {
			t.Errorf("%d finished events stored for %s; want 1", got, conn)
		}
	}
}
