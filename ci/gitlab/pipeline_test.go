package gitlab

import (
	"testing"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// The status table of the README, row by row.
func TestStatuses(t *testing.T) {
	warned := []job{{name: "lint", status: "failed", allowFailure: true}}
	tests := []struct {
		status  string
		jobs    []job
		waiting bool
		result  ci.Result
	}{
		{"success", nil, false, ci.ResultSuccess},
		{"success", warned, false, ci.ResultWarnings},
		{"failed", warned, false, ci.ResultFailure},
		{"canceled", nil, false, ci.ResultCancelled},
		{"skipped", nil, false, ci.ResultSkipped},
		{"created", nil, false, ci.ResultNone},
		{"pending", nil, false, ci.ResultNone},
		{"preparing", nil, false, ci.ResultNone},
		{"running", nil, false, ci.ResultNone},
		{"canceling", nil, false, ci.ResultNone},
		{"waiting_for_callback", nil, false, ci.ResultNone},
		{"manual", nil, true, ci.ResultNone},
		{"scheduled", nil, true, ci.ResultNone},
		{"waiting_for_resource", nil, true, ci.ResultNone},
		{"something_new", nil, true, ci.ResultNone},
	}
	for _, tt := range tests {
		if got := Waiting(tt.status); got != tt.waiting {
			t.Errorf("Waiting(%s) = %v", tt.status, got)
		}
		if got := Result(tt.status, tt.jobs); got != tt.result {
			t.Errorf("Result(%s, %d jobs) = %q, want %q", tt.status, len(tt.jobs), got, tt.result)
		}
	}
}

func TestParseBuildID(t *testing.T) {
	for id, want := range map[string][2]int64{"4711/2": {4711, 2}, "4711": {4711, 1}} {
		pid, n, err := parseBuildID(id)
		if err != nil || pid != want[0] || int64(n) != want[1] {
			t.Errorf("%s: %d %d %v", id, pid, n, err)
		}
	}
	for _, id := range []string{"", "x", "4711/0", "-1/1", "4711/a", "/1"} {
		if _, _, err := parseBuildID(id); err == nil {
			t.Errorf("%q parsed", id)
		}
	}
}

// TestRunWithUnknownJob: a hook naming a job the API does not list yet (a lagging replica)
// has no run: it is left to the poll rather than given the pipeline's older run.
func TestRunWithUnknownJob(t *testing.T) {
	rs := readRuns([]*gl.Job{{ID: 1, Name: "unit"}, {ID: 2, Name: "unit"}})
	if n, ok := rs.runWith([]int64{2}); n != 2 || !ok {
		t.Errorf("run of job 2 = %d, %v; want 2, true", n, ok)
	}
	if n, ok := rs.runWith(nil); n != 2 || !ok {
		t.Errorf("run without jobs = %d, %v; want the current run 2, true", n, ok)
	}
	if n, ok := rs.runWith([]int64{1, 3}); ok {
		t.Errorf("run with the unknown job 3 = %d, known; want unknown", n)
	}
}

func TestAPIBranch(t *testing.T) {
	for ref, want := range map[string]string{
		"main": "main", "refs/merge-requests/12/head": "!12", "refs/merge-requests/3/merge": "!3",
		"refs/merge-requests/7/train": "!7", "refs/merge-requests/x/head": "refs/merge-requests/x/head",
		"refs/merge-requests/5/other": "refs/merge-requests/5/other", "feature/refs": "feature/refs",
	} {
		if got := apiBranch(ref); got != want {
			t.Errorf("apiBranch(%q) = %q, want %q", ref, got, want)
		}
	}
}
