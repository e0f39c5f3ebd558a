package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	gh "github.com/google/go-github/v89/github"
)

func TestDispatchRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	ci := fmt.Sprintf("/repos/acme/widgets/actions/workflows/%d/dispatches", f.ci)
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"unknown ref", ci, `{"ref":"nope","inputs":{"note":"x"}}`, "No ref found for: nope"},
		{"no workflow_dispatch", "/repos/acme/widgets/actions/workflows/lint.yml/dispatches", `{"ref":"main"}`, "Workflow does not have 'workflow_dispatch' trigger"},
		{"unexpected input", ci, `{"ref":"main","inputs":{"note":"x","color":"red","size":"L"}}`, `Unexpected inputs provided: ["color","size"]`},
		{"missing required input", ci, `{"ref":"main","inputs":{"debug":"true"}}`, "Required input 'note' not provided"},
		{"choice not offered", ci, `{"ref":"main","inputs":{"note":"x","environment":"moon"}}`, "Provided value 'moon' for input 'environment' not in the list of allowed values"},
		{"no ref", ci, `{"inputs":{}}`, "Invalid request.\n\n\"ref\" wasn't supplied."},
		{"a boolean not as a string", ci, `{"ref":"main","inputs":{"note":"x","debug":true}}`, "Invalid request.\n\nFor 'properties/debug', true is not a string."},
		{"a number not as a string", ci, `{"ref":"main","inputs":{"note":3}}`, "Invalid request.\n\nFor 'properties/note', 3 is not a string."},
		{"more than 25 inputs", ci, manyInputs(26), "Invalid request.\n\nNo more than 25 properties are allowed; 26 were supplied."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := f.do(http.MethodPost, tc.path, testToken, tc.body)
			wantError(t, status, body, http.StatusUnprocessableEntity, tc.want)
		})
	}
	status, _, body := f.do(http.MethodPost, ci, testToken, `{"ref":`)
	wantError(t, status, body, http.StatusBadRequest, "Problems parsing JSON")
	if d := f.srv.Dispatches(); len(d) != 0 {
		t.Errorf("refused dispatches were recorded: %+v", d)
	}
}

// manyInputs is a dispatch body with n string inputs.
func manyInputs(n int) string {
	in := map[string]string{}
	for i := range n {
		in[fmt.Sprintf("in%02d", i)] = "x"
	}
	b, _ := json.Marshal(map[string]any{"ref": "main", "inputs": in})
	return string(b)
}

func TestDispatchCreatesRun(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := ctxT(t)
	// Without return_run_details: 204 and no body.
	status, _, body := f.do(http.MethodPost, "/repos/acme/widgets/actions/workflows/ci.yml/dispatches", testToken,
		`{"ref":"refs/heads/develop","inputs":{"note":"first","debug":"true"}}`)
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("dispatch: %d %q", status, body)
	}
	// With it: 200 and the run's ids.
	details, _, err := f.client.Actions.CreateWorkflowDispatchEventByID(ctx, "acme", "widgets", f.ci, gh.CreateWorkflowDispatchEventRequest{
		Ref: "main", Inputs: map[string]any{"note": "second", "environment": "production"}, ReturnRunDetails: gh.Ptr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	ds := f.srv.Dispatches()
	if len(ds) != 2 {
		t.Fatalf("dispatches %+v", ds)
	}
	if ds[0].Ref != "refs/heads/develop" || ds[0].Inputs["note"] != "first" || ds[0].Inputs["debug"] != "true" || ds[0].WorkflowID != f.ci || ds[0].Repo != "acme/widgets" {
		t.Errorf("first dispatch %+v", ds[0])
	}
	if details.GetWorkflowRunID() != ds[1].RunID || details.GetRunURL() != fmt.Sprintf("%s/repos/acme/widgets/actions/runs/%d", f.srv.URL(), ds[1].RunID) || details.GetHTMLURL() == "" {
		t.Errorf("details %+v, dispatch %+v", details, ds[1])
	}
	run, _, err := f.client.Actions.GetWorkflowRunByID(ctx, "acme", "widgets", ds[1].RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.GetEvent() != "workflow_dispatch" || run.GetHeadBranch() != "main" || run.GetStatus() != "queued" || run.GetRunNumber() != 2 || run.GetDisplayTitle() != "CI" {
		t.Errorf("dispatched run %+v", run)
	}
	first, _, _ := f.client.Actions.GetWorkflowRunByID(ctx, "acme", "widgets", ds[0].RunID)
	if first.GetHeadBranch() != "develop" || len(first.GetHeadSHA()) != 40 || first.GetHeadSHA() == run.GetHeadSHA() {
		t.Errorf("first run %+v", first)
	}
}

func TestAutoPlay(t *testing.T) {
	f := newFixture(t, Options{})
	var calls []string
	f.srv.SetAutoPlay(&AutoPlay{Step: time.Millisecond, Conclusion: func(repo, path, ref string, inputs map[string]any, attempt int) string {
		calls = append(calls, fmt.Sprintf("%s %s %s %v %d", repo, path, ref, inputs["debug"], attempt))
		if inputs["debug"] == "true" && attempt == 1 {
			return "failure"
		}
		return "success"
	}})
	status, _, body := f.do(http.MethodPost, "/repos/acme/widgets/actions/workflows/ci.yml/dispatches", testToken,
		`{"ref":"main","inputs":{"note":"x","debug":"true"},"return_run_details":true}`)
	if status != http.StatusOK {
		t.Fatalf("dispatch %d %s", status, body)
	}
	var d struct {
		WorkflowRunID int64 `json:"workflow_run_id"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	conclusion := func(want string, attempt int) func() bool {
		return func() bool {
			var r runView
			_ = json.Unmarshal(f.srv.RunJSON(d.WorkflowRunID), &r)
			return r.Status == "completed" && r.RunAttempt == attempt && r.Conclusion != nil && *r.Conclusion == want
		}
	}
	if err := f.srv.WaitFor(ctx, conclusion("failure", 1)); err != nil {
		t.Fatalf("dispatched run: %v: %s", err, f.srv.RunJSON(d.WorkflowRunID))
	}
	status, _, body = f.do(http.MethodPost, fmt.Sprintf("/repos/acme/widgets/actions/runs/%d/rerun-failed-jobs", d.WorkflowRunID), testToken, "")
	if status != http.StatusCreated {
		t.Fatalf("rerun %d %s", status, body)
	}
	if err := f.srv.WaitFor(ctx, conclusion("success", 2)); err != nil {
		t.Fatalf("re-run: %v: %s", err, f.srv.RunJSON(d.WorkflowRunID))
	}
	if fmt.Sprint(calls) != "[acme/widgets .github/workflows/ci.yml main true 1 acme/widgets .github/workflows/ci.yml main true 2]" {
		t.Errorf("Conclusion calls %v", calls)
	}
	var jobs jobsView
	f.getJSON(fmt.Sprintf("/repos/acme/widgets/actions/runs/%d/attempts/1/jobs", d.WorkflowRunID), &jobs)
	if jobs.TotalCount != 1 || jobs.Jobs[0].Conclusion == nil || *jobs.Jobs[0].Conclusion != "failure" {
		t.Errorf("attempt 1 jobs %+v", jobs)
	}
}
