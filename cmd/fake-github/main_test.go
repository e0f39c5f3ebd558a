package main

import (
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci/github/githubtest"
)

func TestConclusion(t *testing.T) {
	for _, tc := range []struct {
		inputs  map[string]any
		attempt int
		want    string
	}{
		{map[string]any{"debug": true}, 1, "failure"},
		{map[string]any{"debug": "true"}, 1, "failure"},
		{map[string]any{"debug": true}, 2, "success"},
		{map[string]any{"debug": "false"}, 1, "success"},
		{nil, 1, "success"},
	} {
		if got := conclusion("demo/widgets", ".github/workflows/ci.yml", "main", tc.inputs, tc.attempt); got != tc.want {
			t.Errorf("conclusion(%v, attempt %d) = %q, want %q", tc.inputs, tc.attempt, got, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	body := `{"action":"completed","workflow_run":{"name":"CI","run_number":7,"run_attempt":2,"head_branch":"main","conclusion":"failure"}}`
	got := describe(githubtest.Delivery{ID: "0123456789ab", Event: "workflow_run", Action: "completed", Body: []byte(body), Status: 200, Answer: "stored\n"})
	if got != "[delivery 01234567 workflow_run/completed (CI #7 attempt 2 on main: failure)] herald answered 200 stored" {
		t.Errorf("describe: %q", got)
	}
	got = describe(githubtest.Delivery{ID: "0123456789ab", Event: "workflow_job", Action: "queued", Body: []byte(`{"workflow_job":{"name":"build"}}`), Answer: "dial tcp: connection refused"})
	if !strings.HasSuffix(got, "(job build)] failed: dial tcp: connection refused") {
		t.Errorf("describe: %q", got)
	}
}

func TestPushCycleBreaksAndRecovers(t *testing.T) {
	var results []string
	for _, p := range pushes {
		results = append(results, p.result)
	}
	if strings.Join(results, " ") != "success success failure success" {
		t.Errorf("cycle %v", results)
	}
}
