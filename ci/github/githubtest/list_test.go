package githubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v89/github"
)

type runsView struct {
	TotalCount   int       `json:"total_count"`
	WorkflowRuns []runView `json:"workflow_runs"`
}

func ids(runs []runView) []int64 {
	var out []int64
	for _, r := range runs {
		out = append(out, r.ID)
	}
	return out
}

func TestListRunsFilters(t *testing.T) {
	f := newFixture(t, Options{})
	start := f.clock() // 2026-03-01T12:00:00Z
	a := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{Branch: "main", Actor: "ann"})
	f.tick(time.Hour)
	b := f.srv.QueueRun("acme/widgets", f.lint, RunOptions{Branch: "develop", Event: "pull_request"})
	f.srv.StartRun(b, "build", "Lint")
	f.tick(24 * time.Hour) // 2026-03-02T13:00:00Z
	c := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{Branch: "main", SHA: strings.Repeat("c", 40)})
	f.srv.CompleteRun(c, "failure", "build", "Test")
	f.srv.CompleteRun(a, "success", "", "")

	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{c, b, a}}, // newest first
		{"branch=main", []int64{c, a}},
		{"branch=develop", []int64{b}},
		{"event=pull_request", []int64{b}},
		{"actor=ann", []int64{a}},
		{"status=completed", []int64{c, a}},
		{"status=in_progress", []int64{b}},
		{"status=queued", nil},
		{"status=failure", []int64{c}},
		{"status=success", []int64{a}},
		{"head_sha=" + strings.Repeat("c", 40), []int64{c}},
		{"created=" + url.QueryEscape(">=2026-03-02"), []int64{c}},
		{"created=" + url.QueryEscape(">2026-03-01"), []int64{c}},
		{"created=" + url.QueryEscape("<2026-03-02"), []int64{b, a}},
		{"created=" + url.QueryEscape("<=2026-03-01"), []int64{b, a}},
		{"created=2026-03-01", []int64{b, a}},
		{"created=" + url.QueryEscape(">"+start.Add(30*time.Minute).Format(time.RFC3339)), []int64{c, b}},
		{"created=" + url.QueryEscape(">="+start.Format(time.RFC3339)), []int64{c, b, a}},
		{"created=" + url.QueryEscape(">"+start.Format(time.RFC3339)), []int64{c, b}},
		{"created=2026-03-01T12:30:00Z..2026-03-02T12:00:00Z", []int64{b}},
		{"created=2026-03-02..*", []int64{c}},
		{"created=*..2026-03-01", []int64{b, a}},
		{"exclude_pull_requests=true&branch=develop", []int64{b}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var got runsView
			f.getJSON("/repos/acme/widgets/actions/runs?"+tc.query, &got)
			if fmt.Sprint(ids(got.WorkflowRuns)) != fmt.Sprint(tc.want) || got.TotalCount != len(tc.want) {
				t.Errorf("runs %v (total %d), want %v", ids(got.WorkflowRuns), got.TotalCount, tc.want)
			}
		})
	}
	var byWorkflow runsView
	f.getJSON("/repos/acme/widgets/actions/workflows/ci.yml/runs", &byWorkflow)
	if fmt.Sprint(ids(byWorkflow.WorkflowRuns)) != fmt.Sprint([]int64{c, a}) {
		t.Errorf("ci.yml runs %v", ids(byWorkflow.WorkflowRuns))
	}
	f.getJSON(fmt.Sprintf("/repos/acme/widgets/actions/workflows/%d/runs?status=failure", f.ci), &byWorkflow)
	if fmt.Sprint(ids(byWorkflow.WorkflowRuns)) != fmt.Sprint([]int64{c}) {
		t.Errorf("workflow %d failures %v", f.ci, ids(byWorkflow.WorkflowRuns))
	}
	status, _, body := f.do(http.MethodGet, "/repos/acme/widgets/actions/runs?created=yesterday", testToken, "")
	wantError(t, status, body, http.StatusUnprocessableEntity, "Invalid created filter: yesterday")
}

func TestListRunsPagination(t *testing.T) {
	f := newFixture(t, Options{})
	var all []int64
	for range 65 {
		all = append([]int64{f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})}, all...)
		f.tick(time.Second)
	}
	var p runsView
	h := f.getJSON("/repos/acme/widgets/actions/runs", &p)
	if p.TotalCount != 65 || len(p.WorkflowRuns) != 30 || p.WorkflowRuns[0].ID != all[0] {
		t.Fatalf("page 1: total %d, %d runs", p.TotalCount, len(p.WorkflowRuns))
	}
	link := h.Get("Link")
	if !strings.Contains(link, `page=2>; rel="next"`) || !strings.Contains(link, `page=3>; rel="last"`) || strings.Contains(link, "prev") {
		t.Errorf("page 1 Link %q", link)
	}
	h = f.getJSON("/repos/acme/widgets/actions/runs?per_page=500&page=1", &p)
	if len(p.WorkflowRuns) != 65 || h.Get("Link") != "" {
		t.Errorf("per_page 500 is capped at 100: %d runs, Link %q", len(p.WorkflowRuns), h.Get("Link"))
	}
	h = f.getJSON("/repos/acme/widgets/actions/runs?per_page=20&page=2&branch=main", &p)
	if fmt.Sprint(ids(p.WorkflowRuns)) != fmt.Sprint(all[20:40]) {
		t.Errorf("page 2 of 20: %v", ids(p.WorkflowRuns))
	}
	link = h.Get("Link")
	for _, want := range []string{`page=1&per_page=20>; rel="prev"`, `page=3&per_page=20>; rel="next"`, `page=4&per_page=20>; rel="last"`, `page=1&per_page=20>; rel="first"`, "branch=main"} {
		if !strings.Contains(link, want) {
			t.Errorf("page 2 Link %q lacks %q", link, want)
		}
	}
	f.getJSON("/repos/acme/widgets/actions/runs?page=9", &p)
	if len(p.WorkflowRuns) != 0 || p.TotalCount != 65 {
		t.Errorf("past the end: %d runs, total %d", len(p.WorkflowRuns), p.TotalCount)
	}

	// go-github follows the Link header to the end.
	var seen []int64
	opts := &gh.ListWorkflowRunsOptions{ListOptions: gh.ListOptions{PerPage: 25}}
	for {
		runs, resp, err := f.client.Actions.ListRepositoryWorkflowRuns(ctxT(t), "acme", "widgets", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs.WorkflowRuns {
			seen = append(seen, r.GetID())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if fmt.Sprint(seen) != fmt.Sprint(all) {
		t.Errorf("go-github saw %d runs, want %d in order", len(seen), len(all))
	}
}

func TestReposBranchesContentsWorkflows(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := ctxT(t)
	rp, _, err := f.client.Repositories.Get(ctx, "ACME", "Widgets") // case-insensitive, as GitHub
	if err != nil || rp.GetDefaultBranch() != "main" || rp.GetID() == 0 {
		t.Fatalf("repo: %v %+v", err, rp)
	}
	bs, _, err := f.client.Repositories.ListBranches(ctx, "acme", "widgets", nil)
	if err != nil || len(bs) != 2 || bs[0].GetName() != "main" || bs[1].GetName() != "develop" || len(bs[0].GetCommit().GetSHA()) != 40 {
		t.Fatalf("branches: %v %+v", err, bs)
	}
	file, _, _, err := f.client.Repositories.GetContents(ctx, "acme", "widgets", ".github/workflows/ci.yml", &gh.RepositoryContentGetOptions{Ref: "develop"})
	if err != nil {
		t.Fatal(err)
	}
	text, err := file.GetContent()
	if err != nil || text != ciYAML || file.GetType() != "file" || file.GetEncoding() != "base64" {
		t.Errorf("contents: %v type %q encoding %q:\n%s", err, file.GetType(), file.GetEncoding(), text)
	}
	status, _, body := f.do(http.MethodGet, "/repos/acme/widgets/contents/.github/workflows/ci.yml?ref=nope", testToken, "")
	wantError(t, status, body, http.StatusNotFound, "No commit found for the ref nope")
	status, _, body = f.do(http.MethodGet, "/repos/acme/widgets/contents/README.md", testToken, "")
	wantError(t, status, body, http.StatusNotFound, "Not Found")

	wfs, _, err := f.client.Actions.ListWorkflows(ctx, "acme", "widgets", nil)
	if err != nil || wfs.GetTotalCount() != 2 || wfs.Workflows[0].GetPath() != ".github/workflows/ci.yml" || wfs.Workflows[0].GetState() != "active" {
		t.Fatalf("workflows: %v %+v", err, wfs)
	}
	byName, _, err := f.client.Actions.GetWorkflowByFileName(ctx, "acme", "widgets", "lint.yml")
	if err != nil || byName.GetID() != f.lint || byName.GetName() != "Lint" {
		t.Errorf("lint.yml: %v %+v", err, byName)
	}
	byID, _, err := f.client.Actions.GetWorkflowByID(ctx, "acme", "widgets", f.ci)
	if err != nil || byID.GetName() != "CI" {
		t.Errorf("workflow %d: %v %+v", f.ci, err, byID)
	}
}
