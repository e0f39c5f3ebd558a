package main

// End-to-end tests of GitLab CI (issue 10, "Tests and proof"): the real herald binary, the
// fake Bot API, a fake GitLab (ci/gitlab/gitlabtest) posting its hooks with X-Gitlab-Token,
// and a Postgres database per test.

import (
	"fmt"
	"strings"
	"testing"
)

// Pipeline Hooks make a problem and a recovery per builder and branch: main and develop
// each go success, failure, success, and only the failures and their fixes are told.
func TestE2EGitLabProblemRecovery(t *testing.T) {
	t.Parallel()
	e := startGitLab(t, glOptions{chats: subscribe(team.ID, "problem, recovery")})

	_, n1 := e.play("main", false)
	_, n2 := e.play("main", true)
	_, n3 := e.play("main", false)
	_, n4 := e.play("develop", false)
	_, n5 := e.play("develop", true)
	last, n6 := e.play("develop", false)
	e.checkAnswers(e.barrier(last, "success", 1))

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
		{"🟢 <b>Recovery</b>", n6, "develop", "succeeded"},
	}
	if len(msgs) != len(want) {
		t.Fatalf("the group heard %d messages; want %d (two problems, two recoveries):\n%s", len(msgs), len(want), dumpMessages(msgs))
	}
	for i, w := range want {
		parts := append(glNum(w.n), w.headline, w.result, "Branch: <code>"+w.branch+"</code>")
		if !containsAll(msgs[i].Text, parts...) {
			t.Errorf("message %d = %q; want it to have %q", i, msgs[i].Text, parts)
		}
	}
	// The README: a failure names the first failed job, stage / job.
	for _, i := range []int{0, 2} {
		if !strings.Contains(msgs[i].Text, "test / unit") {
			t.Errorf("the problem %q does not name the failed job test / unit", msgs[i].Text)
		}
	}

	got := finishedKinds(t, e.h, glBuilder)
	wantKinds := map[string]string{
		fmt.Sprintf("#%d/1", n1): `["success"]`,
		fmt.Sprintf("#%d/1", n2): `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/1", n3): `["success", "recovery", "better"]`,
		fmt.Sprintf("#%d/1", n4): `["success"]`,
		fmt.Sprintf("#%d/1", n5): `["failure", "problem", "worse"]`,
		fmt.Sprintf("#%d/1", n6): `["success", "recovery", "better"]`,
	}
	for k, w := range wantKinds {
		if got[k] != w {
			t.Errorf("pipeline %s finished with kinds %s; want %s (all: %v)", k, got[k], w, got)
		}
	}
	if n := len(got) - 1; n != 6 { // less the "order" key
		t.Errorf("%d finished events stored for %s; want 6: %v", n, glBuilder, got)
	}
}
