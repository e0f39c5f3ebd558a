package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	gh "github.com/google/go-github/v89/github"
)

// runView is the part of a run the tests read, decoded by field name from the JSON.
type runView struct {
	ID                 int64   `json:"id"`
	Name               string  `json:"name"`
	NodeID             string  `json:"node_id"`
	HeadBranch         string  `json:"head_branch"`
	HeadSHA            string  `json:"head_sha"`
	Path               string  `json:"path"`
	DisplayTitle       string  `json:"display_title"`
	RunNumber          int     `json:"run_number"`
	Event              string  `json:"event"`
	Status             string  `json:"status"`
	Conclusion         *string `json:"conclusion"`
	WorkflowID         int64   `json:"workflow_id"`
	CheckSuiteID       int64   `json:"check_suite_id"`
	URL                string  `json:"url"`
	HTMLURL            string  `json:"html_url"`
	JobsURL            string  `json:"jobs_url"`
	CancelURL          string  `json:"cancel_url"`
	RerunURL           string  `json:"rerun_url"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	RunAttempt         int     `json:"run_attempt"`
	RunStartedAt       string  `json:"run_started_at"`
	PreviousAttemptURL *string `json:"previous_attempt_url"`
	Actor              struct {
		Login string `json:"login"`
	} `json:"actor"`
	TriggeringActor struct {
		Login string `json:"login"`
	} `json:"triggering_actor"`
	HeadCommit struct {
		ID        string `json:"id"`
		Message   string `json:"message"`
		Timestamp string `json:"timestamp"`
		Author    struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"author"`
	} `json:"head_commit"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	HeadRepository struct {
		FullName string `json:"full_name"`
	} `json:"head_repository"`
	PullRequests []any `json:"pull_requests"`
}

func TestRunLifecycle(t *testing.T) {
	f := newFixture(t, Options{})
	created := f.clock()
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{Branch: "develop", Actor: "ann", Message: "Fix the frobnicator\n\nLonger text", Author: "Ann Lee"})
	base := fmt.Sprintf("/repos/acme/widgets/actions/runs/%d", id)

	var r runView
	f.getJSON(base, &r)
	if r.Status != "queued" || r.Conclusion != nil || r.RunAttempt != 1 || r.RunNumber != 1 {
		t.Fatalf("queued run: %+v", r)
	}
	checks := map[string][2]any{
		"id": {r.ID, id}, "name": {r.Name, "CI"}, "head_branch": {r.HeadBranch, "develop"},
		"path": {r.Path, ".github/workflows/ci.yml"}, "display_title": {r.DisplayTitle, "Fix the frobnicator"},
		"event": {r.Event, "push"}, "workflow_id": {r.WorkflowID, f.ci},
		"url": {r.URL, f.srv.URL() + base}, "jobs_url": {r.JobsURL, f.srv.URL() + base + "/jobs"},
		"cancel_url": {r.CancelURL, f.srv.URL() + base + "/cancel"}, "rerun_url": {r.RerunURL, f.srv.URL() + base + "/rerun"},
		"created_at": {r.CreatedAt, created.Format(time.RFC3339)}, "actor": {r.Actor.Login, "ann"},
		"triggering_actor": {r.TriggeringActor.Login, "ann"}, "head_commit.id": {r.HeadCommit.ID, r.HeadSHA},
		"head_commit.author.name": {r.HeadCommit.Author.Name, "Ann Lee"},
		"head_commit.message":     {r.HeadCommit.Message, "Fix the frobnicator\n\nLonger text"},
		"repository":              {r.Repository.FullName, "acme/widgets"}, "head_repository": {r.HeadRepository.FullName, "acme/widgets"},
	}
	for field, c := range checks {
		if fmt.Sprint(c[0]) != fmt.Sprint(c[1]) {
			t.Errorf("%s = %v, want %v", field, c[0], c[1])
		}
	}
	if len(r.HeadSHA) != 40 || r.NodeID == "" || r.CheckSuiteID == 0 || r.HTMLURL == "" || r.PullRequests == nil || r.PreviousAttemptURL != nil {
		t.Errorf("run %+v", r)
	}

	f.tick(time.Minute)
	f.srv.StartRun(id, "build", "Compile")
	f.getJSON(base, &r)
	// run_started_at is when the attempt was made, not when it went in progress.
	if r.Status != "in_progress" || r.Conclusion != nil || r.RunStartedAt != r.CreatedAt || r.RunStartedAt == f.clock().Format(time.RFC3339) {
		t.Fatalf("started run: %+v", r)
	}
	var jobs jobsView
	f.getJSON(base+"/jobs", &jobs)
	if jobs.TotalCount != 1 || jobs.Jobs[0].Name != "build" || jobs.Jobs[0].Status != "in_progress" {
		t.Fatalf("jobs %+v", jobs)
	}
	if cur := jobs.Jobs[0].current(); cur != "Compile" {
		t.Errorf("running step %q, want Compile", cur)
	}

	f.tick(time.Minute)
	f.srv.StartRun(id, "build", "Test")
	f.tick(time.Minute)
	f.srv.CompleteRun(id, "failure", "build", "Test")
	f.getJSON(base, &r)
	if r.Status != "completed" || r.Conclusion == nil || *r.Conclusion != "failure" || r.UpdatedAt != f.clock().Format(time.RFC3339) {
		t.Fatalf("completed run: %+v", r)
	}
	f.getJSON(base+"/jobs", &jobs)
	j := jobs.Jobs[0]
	if j.Conclusion == nil || *j.Conclusion != "failure" || j.CompletedAt == nil {
		t.Fatalf("job %+v", j)
	}
	var failed []string
	for _, st := range j.Steps {
		if st.Conclusion != nil && *st.Conclusion == "failure" {
			failed = append(failed, st.Name)
		}
		if st.Number == 0 || st.Status != "completed" {
			t.Errorf("step %+v", st)
		}
	}
	if fmt.Sprint(failed) != "[Test]" {
		t.Errorf("failed steps %v, want [Test]", failed)
	}
	if string(f.srv.RunJSON(id)) == "" {
		t.Error("RunJSON empty")
	}
	var viaMethod runView
	if err := json.Unmarshal(f.srv.RunJSON(id), &viaMethod); err != nil || viaMethod.Status != "completed" {
		t.Errorf("RunJSON: %v %+v", err, viaMethod)
	}
}

type stepView struct {
	Name        string  `json:"name"`
	Status      string  `json:"status"`
	Conclusion  *string `json:"conclusion"`
	Number      int     `json:"number"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
}

type jobView struct {
	ID          int64      `json:"id"`
	RunID       int64      `json:"run_id"`
	RunAttempt  int        `json:"run_attempt"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Conclusion  *string    `json:"conclusion"`
	StartedAt   string     `json:"started_at"`
	CompletedAt *string    `json:"completed_at"`
	Steps       []stepView `json:"steps"`
	RunnerName  *string    `json:"runner_name"`
}

func (j jobView) current() string {
	for _, st := range j.Steps {
		if st.Status == "in_progress" {
			return st.Name
		}
	}
	return ""
}

type jobsView struct {
	TotalCount int       `json:"total_count"`
	Jobs       []jobView `json:"jobs"`
}

func TestRerunKeepsRunAndAddsAttempt(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.AddRunner("acme/widgets", "builder-1", true, false)
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	f.srv.StartRun(id, "lint", "Vet")
	f.srv.StartRun(id, "test", "Unit")
	f.srv.CompleteRun(id, "failure", "test", "Unit")
	var first runView
	base := fmt.Sprintf("/repos/acme/widgets/actions/runs/%d", id)
	f.getJSON(base, &first)

	f.tick(time.Hour)
	if n := f.srv.RerunFailed(id); n != 2 {
		t.Fatalf("attempt %d, want 2", n)
	}
	var second runView
	f.getJSON(base, &second)
	if second.ID != first.ID || second.RunNumber != first.RunNumber || second.CreatedAt != first.CreatedAt {
		t.Errorf("re-run changed identity: %+v vs %+v", second, first)
	}
	if second.RunAttempt != 2 || second.Status != "queued" || second.Conclusion != nil ||
		second.RunStartedAt == first.RunStartedAt || second.UpdatedAt == first.UpdatedAt {
		t.Errorf("re-run: %+v", second)
	}
	if second.PreviousAttemptURL == nil || *second.PreviousAttemptURL != f.srv.URL()+base+"/attempts/1" {
		t.Errorf("previous_attempt_url %v", second.PreviousAttemptURL)
	}
	var old runView
	f.getJSON(base+"/attempts/1", &old)
	if old.RunAttempt != 1 || old.Conclusion == nil || *old.Conclusion != "failure" {
		t.Errorf("attempt 1 now: %+v", old)
	}
	status, _, body := f.do(http.MethodGet, base+"/attempts/3", testToken, "")
	wantError(t, status, body, http.StatusNotFound, "Not Found")

	f.srv.StartRun(id, "test", "Unit")
	f.srv.CompleteRun(id, "success", "", "")
	var latest, all, att1, att2 jobsView
	f.getJSON(base+"/jobs", &latest)
	f.getJSON(base+"/jobs?filter=all", &all)
	f.getJSON(base+"/attempts/1/jobs", &att1)
	f.getJSON(base+"/attempts/2/jobs", &att2)
	// lint passed in attempt 1 and was not re-run; test ran again in attempt 2.
	if latest.TotalCount != 2 || all.TotalCount != 3 || att1.TotalCount != 2 || att2.TotalCount != 1 {
		t.Fatalf("jobs: latest %d, all %d, attempt 1 %d, attempt 2 %d", latest.TotalCount, all.TotalCount, att1.TotalCount, att2.TotalCount)
	}
	for _, j := range latest.Jobs {
		want := map[string]int{"lint": 1, "test": 2}[j.Name]
		if j.RunAttempt != want || j.Conclusion == nil || *j.Conclusion != "success" {
			t.Errorf("latest job %s: attempt %d conclusion %v", j.Name, j.RunAttempt, j.Conclusion)
		}
		if j.RunnerName == nil || *j.RunnerName != "builder-1" {
			t.Errorf("job %s runner %v", j.Name, j.RunnerName)
		}
	}
	if got := f.srv.Reruns(); fmt.Sprint(got) != fmt.Sprint([]int64{id}) {
		t.Errorf("Reruns %v", got)
	}

	// go-github reads the same shapes.
	run, _, err := f.client.Actions.GetWorkflowRunAttempt(ctxT(t), "acme", "widgets", id, 1, nil)
	if err != nil || run.GetRunAttempt() != 1 || run.GetConclusion() != "failure" {
		t.Errorf("go-github attempt 1: %v %+v", err, run)
	}
	js, _, err := f.client.Actions.ListWorkflowJobs(ctxT(t), "acme", "widgets", id, &gh.ListWorkflowJobsOptions{Filter: "all"})
	if err != nil || js.GetTotalCount() != 3 || len(js.Jobs[0].Steps) == 0 {
		t.Errorf("go-github jobs: %v %+v", err, js)
	}
}

func TestCancelAndRerunEndpoints(t *testing.T) {
	f := newFixture(t, Options{CancelDelay: time.Hour})
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	base := fmt.Sprintf("/repos/acme/widgets/actions/runs/%d", id)
	f.srv.StartRun(id, "build", "Test")

	status, _, body := f.do(http.MethodPost, base+"/rerun-failed-jobs", testToken, "")
	wantError(t, status, body, http.StatusForbidden, "This workflow is already running")

	status, _, body = f.do(http.MethodPost, base+"/cancel", testToken, "")
	if status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", status, body)
	}
	var r runView
	f.getJSON(base, &r)
	if r.Status != "in_progress" {
		t.Fatalf("a run being cancelled: %+v, want still in progress", r)
	}
	// A second cancel while it stops is accepted too.
	if status, _, body = f.do(http.MethodPost, base+"/cancel", testToken, ""); status != http.StatusAccepted {
		t.Fatalf("second cancel: %d %s", status, body)
	}
	f.srv.SettleCancels()
	f.getJSON(base, &r)
	if r.Status != "completed" || r.Conclusion == nil || *r.Conclusion != "cancelled" {
		t.Fatalf("cancelled run: %+v", r)
	}
	status, _, body = f.do(http.MethodPost, base+"/cancel", testToken, "")
	wantError(t, status, body, http.StatusConflict, "Cannot cancel a workflow run that is completed.")
	if got := f.srv.Cancels(); len(got) != 2 || got[0] != id || got[1] != id {
		t.Errorf("Cancels %v", got)
	}

	if _, err := f.client.Actions.RerunFailedJobsByID(ctxT(t), "acme", "widgets", id); err != nil {
		t.Fatalf("rerun-failed-jobs: %v", err)
	}
	f.getJSON(base, &r)
	if r.RunAttempt != 2 || r.Status != "queued" {
		t.Errorf("after re-run: %+v", r)
	}
	status, _, body = f.do(http.MethodPost, "/repos/acme/widgets/actions/runs/1/cancel", testToken, "")
	wantError(t, status, body, http.StatusNotFound, "Not Found")
}

// Without SettleCancels a cancelled run completes by itself after CancelDelay.
func TestCancelCompletesByItself(t *testing.T) {
	f := newFixture(t, Options{CancelDelay: time.Millisecond})
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	f.srv.StartRun(id, "build", "Test")
	if status, _, body := f.do(http.MethodPost, fmt.Sprintf("/repos/acme/widgets/actions/runs/%d/cancel", id), testToken, ""); status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", status, body)
	}
	err := f.srv.WaitFor(ctxT(t), func() bool {
		var r runView
		_ = json.Unmarshal(f.srv.RunJSON(id), &r)
		return r.Status == "completed" && r.Conclusion != nil && *r.Conclusion == "cancelled"
	})
	if err != nil {
		t.Fatalf("%v: %s", err, f.srv.RunJSON(id))
	}
}

func TestRunners(t *testing.T) {
	f := newFixture(t, Options{})
	a := f.srv.AddRunner("acme/widgets", "linux-1", true, true)
	f.srv.AddRunner("acme/widgets", "mac-1", false, false)
	f.srv.SetRunner("acme/widgets", a, true, false)
	rs, _, err := f.client.Actions.ListRunners(ctxT(t), "acme", "widgets", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs.TotalCount != 2 {
		t.Fatalf("runners %+v", rs)
	}
	got := fmt.Sprintf("%s %s %v | %s %s %v", rs.Runners[0].GetName(), rs.Runners[0].GetStatus(), rs.Runners[0].GetBusy(),
		rs.Runners[1].GetName(), rs.Runners[1].GetStatus(), rs.Runners[1].GetBusy())
	if got != "linux-1 online false | mac-1 offline false" {
		t.Errorf("runners: %s", got)
	}
	if len(rs.Runners[0].Labels) == 0 || rs.Runners[0].Labels[0].GetName() != "self-hosted" {
		t.Errorf("labels %+v", rs.Runners[0].Labels)
	}
}
