package gitlabtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

const token = "glpat-fake"

func newServer(t *testing.T, opts gitlabtest.Options) *gitlabtest.Server {
	t.Helper()
	opts.Token = token
	s, err := gitlabtest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("%s: %v", a.body, err)
	}
}

// do sends a request with the PRIVATE-TOKEN header (auth "" sends none).
func do(t *testing.T, s *gitlabtest.Server, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("PRIVATE-TOKEN", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestAuth(t *testing.T) {
	s := newServer(t, gitlabtest.Options{})
	s.AddProject("acme/app", "main")
	for _, tt := range []struct {
		name   string
		header string
		value  string
		code   int
	}{
		{"no token", "", "", 401},
		{"wrong token", "PRIVATE-TOKEN", "nope", 401},
		{"private token", "PRIVATE-TOKEN", token, 200},
		{"bearer", "Authorization", "Bearer " + token, 200},
		{"wrong bearer", "Authorization", "Bearer nope", 401},
		{"basic is not a token", "Authorization", "Basic " + token, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/v4/projects/acme%2Fapp", nil)
			if tt.header != "" {
				req.Header.Set(tt.header, tt.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if tt.code == 401 && strings.TrimSpace(string(b)) != `{"message":"401 Unauthorized"}` {
				t.Errorf("body %s", b)
			}
		})
	}
}

func TestProjectsAndNotFound(t *testing.T) {
	s := newServer(t, gitlabtest.Options{})
	id := s.AddProject("acme/sub/app", "main", "develop")
	for _, path := range []string{"/api/v4/projects/acme%2Fsub%2Fapp", "/api/v4/projects/" + itoa(id)} {
		a := do(t, s, "GET", path, token, "")
		var p struct {
			ID                int64  `json:"id"`
			PathWithNamespace string `json:"path_with_namespace"`
			DefaultBranch     string `json:"default_branch"`
		}
		a.json(t, &p)
		if a.code != 200 || p.ID != id || p.PathWithNamespace != "acme/sub/app" || p.DefaultBranch != "main" {
			t.Errorf("%s: %d %s", path, a.code, a.body)
		}
	}
	for path, want := range map[string]string{
		"/api/v4/projects/acme%2Fnone":                  `{"message":"404 Project Not Found"}`,
		"/api/v4/projects/acme%2Fsub%2Fapp/pipelines/1": `{"message":"404 Not found"}`,
		"/api/v4/nothing":                               `{"error":"404 Not Found"}`,
	} {
		if a := do(t, s, "GET", path, token, ""); a.code != 404 || a.body != want {
			t.Errorf("%s: %d %s, want 404 %s", path, a.code, a.body, want)
		}
	}
	a := do(t, s, "GET", "/api/v4/projects/acme%2Fsub%2Fapp/repository/branches", token, "")
	var bs []struct {
		Name    string `json:"name"`
		Default bool   `json:"default"`
	}
	a.json(t, &bs)
	if len(bs) != 2 || bs[0].Name != "develop" || bs[1].Name != "main" || !bs[1].Default {
		t.Errorf("branches %s", a.body)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestPipelinesListPagesAndFilters(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newServer(t, gitlabtest.Options{Clock: clock})
	s.AddProject("acme/app", "main")
	var ids []int64
	for range 25 {
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		ids = append(ids, s.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{}))
	}
	a := do(t, s, "GET", "/api/v4/projects/acme%2Fapp/pipelines", token, "")
	var page []struct {
		ID        int64  `json:"id"`
		IID       int64  `json:"iid"`
		Status    string `json:"status"`
		UpdatedAt string `json:"updated_at"`
	}
	a.json(t, &page)
	h := a.header
	if len(page) != 20 || page[0].ID != ids[24] || h.Get("X-Total") != "25" || h.Get("X-Total-Pages") != "2" ||
		h.Get("X-Page") != "1" || h.Get("X-Per-Page") != "20" || h.Get("X-Next-Page") != "2" || h.Get("X-Prev-Page") != "" {
		t.Errorf("first page: %d items, first %d, headers %v", len(page), page[0].ID, h)
	}
	if l := h.Get("Link"); !strings.Contains(l, `page=2&per_page=20>; rel="next"`) || !strings.Contains(l, `rel="first"`) || !strings.Contains(l, `rel="last"`) {
		t.Errorf("Link %s", l)
	}
	a = do(t, s, "GET", "/api/v4/projects/acme%2Fapp/pipelines?page=2", token, "")
	a.json(t, &page)
	if len(page) != 5 || a.header.Get("X-Next-Page") != "" || a.header.Get("X-Prev-Page") != "1" {
		t.Errorf("second page: %d items, headers %v", len(page), a.header)
	}
	after := now.Add(-3*time.Minute + time.Second).Format(time.RFC3339)
	a = do(t, s, "GET", "/api/v4/projects/acme%2Fapp/pipelines?updated_after="+after+"&order_by=updated_at&sort=asc", token, "")
	a.json(t, &page)
	if len(page) != 3 || page[0].ID != ids[22] || page[2].ID != ids[24] || page[0].UpdatedAt != "2026-11-30T12:23:00.000Z" {
		t.Errorf("updated after: %s", a.body)
	}
	if err := s.Finish(ids[0]); err != nil {
		t.Fatal(err)
	}
	a = do(t, s, "GET", "/api/v4/projects/acme%2Fapp/pipelines?scope=finished", token, "")
	a.json(t, &page)
	if len(page) != 1 || page[0].ID != ids[0] || page[0].Status != "success" {
		t.Errorf("finished: %s", a.body)
	}
	for q, want := range map[string]string{
		"order_by=name":           `{"error":"order_by does not have a valid value"}`,
		"sort=up":                 `{"error":"sort does not have a valid value"}`,
		"updated_after=yesterday": `{"error":"updated_after is invalid"}`,
	} {
		if a := do(t, s, "GET", "/api/v4/projects/acme%2Fapp/pipelines?"+q, token, ""); a.code != 400 || a.body != want {
			t.Errorf("%s: %d %s", q, a.code, a.body)
		}
	}
}

type apiJob struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Stage  string `json:"stage"`
	Status string `json:"status"`
}

func TestCreateRetryCancel(t *testing.T) {
	s := newServer(t, gitlabtest.Options{})
	s.AddProject("acme/app", "main", "develop")
	s.SetJobs("acme/app", gitlabtest.JobSpec{Stage: "test", Name: "unit", FailRuns: 1}, gitlabtest.JobSpec{Stage: "deploy", Name: "ship"})
	for body, want := range map[string]string{
		`{}`:             `{"error":"ref is missing"}`,
		`{"ref":"nope"}`: `{"message":{"base":["Reference not found"]}}`,
		`{"ref":"main","variables":[{"key":"","value":"x"}]}`: `{"message":{"base":["Variables key can't be blank"]}}`,
	} {
		if a := do(t, s, "POST", "/api/v4/projects/acme%2Fapp/pipeline", token, body); a.code != 400 || a.body != want {
			t.Errorf("%s: %d %s", body, a.code, a.body)
		}
	}
	a := do(t, s, "POST", "/api/v4/projects/acme%2Fapp/pipeline", token, `{"ref":"develop","variables":[{"key":"GO","value":"1","variable_type":"env_var"}]}`)
	var pl struct {
		ID     int64  `json:"id"`
		IID    int64  `json:"iid"`
		Status string `json:"status"`
		Ref    string `json:"ref"`
		User   struct {
			Username string `json:"username"`
		} `json:"user"`
		StartedAt *string `json:"started_at"`
	}
	a.json(t, &pl)
	if a.code != 201 || pl.IID != 1 || pl.Status != "pending" || pl.Ref != "develop" || pl.User.Username != "herald-bot" || pl.StartedAt != nil {
		t.Fatalf("create: %d %s", a.code, a.body)
	}
	if st, _ := s.Pipeline(pl.ID); st.Variables["GO"] != "1" || st.Source != "api" {
		t.Errorf("state %+v", st)
	}
	if err := s.Finish(pl.ID); err != nil {
		t.Fatal(err)
	}
	path := "/api/v4/projects/acme%2Fapp/pipelines/" + itoa(pl.ID)
	a = do(t, s, "GET", path, token, "")
	a.json(t, &pl)
	if pl.Status != "failed" || pl.StartedAt == nil {
		t.Fatalf("after the finish: %s", a.body)
	}
	started := *pl.StartedAt
	var jobs []apiJob
	do(t, s, "GET", path+"/jobs", token, "").json(t, &jobs)
	if len(jobs) != 2 || jobs[0].Name != "ship" || jobs[0].Status != "skipped" || jobs[1].Status != "failed" {
		t.Errorf("jobs %+v", jobs)
	}
	a = do(t, s, "POST", path+"/retry", token, "")
	a.json(t, &pl)
	if a.code != 201 || pl.Status != "running" || *pl.StartedAt != started {
		t.Errorf("retry: %d %s (a retried pipeline keeps its started_at %s)", a.code, a.body, started)
	}
	do(t, s, "GET", path+"/jobs", token, "").json(t, &jobs)
	if len(jobs) != 2 || jobs[0].Name != "unit" || jobs[0].Status != "pending" || jobs[1].Status != "created" {
		t.Errorf("latest jobs after the retry %+v", jobs)
	}
	do(t, s, "GET", path+"/jobs?include_retried=true", token, "").json(t, &jobs)
	if len(jobs) != 3 || jobs[2].Name != "unit" || jobs[2].Status != "failed" {
		t.Errorf("jobs with the retried %+v", jobs)
	}
	do(t, s, "GET", path+"/jobs?scope[]=failed&include_retried=true", token, "").json(t, &jobs)
	if len(jobs) != 1 {
		t.Errorf("failed jobs %+v", jobs)
	}
	a = do(t, s, "POST", path+"/cancel", token, "")
	a.json(t, &pl)
	if a.code != 200 || pl.Status != "canceled" {
		t.Errorf("cancel: %d %s", a.code, a.body)
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t, gitlabtest.Options{RateLimit: 2})
	s.AddProject("acme/app", "main")
	a := do(t, s, "GET", "/api/v4/projects/acme%2Fapp", token, "")
	h := a.header
	if a.code != 200 || h.Get("RateLimit-Limit") != "2" || h.Get("RateLimit-Observed") != "1" || h.Get("RateLimit-Remaining") != "1" ||
		h.Get("RateLimit-Reset") == "" || h.Get("RateLimit-ResetTime") == "" || h.Get("Retry-After") != "" {
		t.Errorf("first: %d %v", a.code, h)
	}
	do(t, s, "GET", "/api/v4/projects/acme%2Fapp", token, "")
	a = do(t, s, "GET", "/api/v4/projects/acme%2Fapp", token, "")
	if a.code != 429 || a.body != "Retry later\n" || a.header.Get("RateLimit-Remaining") != "0" || a.header.Get("Retry-After") == "" {
		t.Errorf("third: %d %q %v", a.code, a.body, a.header)
	}
	s2 := newServer(t, gitlabtest.Options{})
	s2.Throttle(1)
	if a := do(t, s2, "GET", "/api/v4/runners", token, ""); a.code != 429 {
		t.Errorf("throttled: %d", a.code)
	}
	if a := do(t, s2, "GET", "/api/v4/runners", token, ""); a.code != 200 || a.body != "[]" {
		t.Errorf("after the throttle: %d %s", a.code, a.body)
	}
}

func TestHooks(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, "thanks")
	}))
	t.Cleanup(recv.Close)
	s := newServer(t, gitlabtest.Options{WebhookURL: recv.URL, WebhookToken: "hook-secret"})
	s.AddProject("acme/app", "main")
	id := s.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: []gitlabtest.JobSpec{{Stage: "test", Name: "unit"}}})
	s.DropWebhooks(1)
	if err := s.Start(id); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// pending; unit running (dropped), running; unit success, success
	if err := s.WaitFor(ctx, func() bool { return len(s.Deliveries()) == 5 }); err != nil {
		t.Fatal(err)
	}
	ds := s.Deliveries()
	events := []string{}
	for _, d := range ds {
		events = append(events, d.Event)
		if d.Header.Get("X-Gitlab-Token") != "hook-secret" || d.Header.Get("X-Gitlab-Event-UUID") == "" ||
			d.Header.Get("Idempotency-Key") != d.IdempotencyKey || d.IdempotencyKey == d.UUID || d.Header.Get("X-Gitlab-Webhook-UUID") == "" || d.Header.Get("X-Gitlab-Instance") != s.URL() {
			t.Errorf("headers %v", d.Header)
		}
		if !d.Dropped && (d.Status != 200 || d.Answer != "thanks") {
			t.Errorf("delivery %+v", d)
		}
	}
	if strings.Join(events, ",") != "Pipeline Hook,Job Hook,Pipeline Hook,Job Hook,Pipeline Hook" || !ds[1].Dropped {
		t.Errorf("events %v, dropped %v", events, ds[1].Dropped)
	}
	var last struct {
		ObjectKind       string `json:"object_kind"`
		ObjectAttributes struct {
			ID         int64    `json:"id"`
			Status     string   `json:"status"`
			Stages     []string `json:"stages"`
			FinishedAt string   `json:"finished_at"`
		} `json:"object_attributes"`
		Project struct {
			PathWithNamespace string `json:"path_with_namespace"`
		} `json:"project"`
		Builds []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"builds"`
	}
	if err := json.Unmarshal(ds[4].Body, &last); err != nil {
		t.Fatal(err)
	}
	if last.ObjectKind != "pipeline" || last.ObjectAttributes.ID != id || last.ObjectAttributes.Status != "success" ||
		!strings.HasSuffix(last.ObjectAttributes.FinishedAt, " UTC") || last.Project.PathWithNamespace != "acme/app" ||
		len(last.Builds) != 1 || last.Builds[0].Status != "success" {
		t.Errorf("pipeline hook %s", ds[4].Body)
	}
	if err := s.Redeliver(ds[4].UUID); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitFor(ctx, func() bool { return len(s.Deliveries()) == 6 }); err != nil {
		t.Fatal(err)
	}
	again := s.Deliveries()[5]
	if again.UUID != ds[4].UUID || again.IdempotencyKey != ds[4].IdempotencyKey || string(again.Body) != string(ds[4].Body) {
		t.Errorf("redelivery %+v", again)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 5 {
		t.Errorf("%d requests received, want 5 (one dropped)", len(got))
	}
}

// The fake lists as GitLab documents: GET /runners the runners the user owns (a project's,
// to a Maintainer; never the instance's), the pipelines list no child pipeline unless
// source=parent_pipeline is asked, /bridges the trigger jobs that /jobs leaves out, and a
// merge request pipeline on refs/merge-requests/<iid>/head.
func TestListsAsGitLabDocuments(t *testing.T) {
	for role, want := range map[string]int{"": 1, "maintainer": 1, "developer": 0, "reporter": 0} {
		s := newServer(t, gitlabtest.Options{Role: role})
		s.AddRunner(gitlabtest.Runner{ID: 1, Description: "own", Status: "online"})
		s.AddRunner(gitlabtest.Runner{ID: 2, Description: "shared", Status: "online", Shared: true})
		var rs []map[string]any
		do(t, s, "GET", "/api/v4/runners", token, "").json(t, &rs)
		if len(rs) != want {
			t.Errorf("role %q: runners %v, want %d", role, rs, want)
		}
	}
	s := newServer(t, gitlabtest.Options{})
	s.AddProject("acme/app", "main", "feature")
	parent := s.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: []gitlabtest.JobSpec{
		{Stage: "build", Name: "compile"}, {Stage: "child", Name: "trigger-child", Trigger: true},
	}})
	child := s.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Source: "parent_pipeline"})
	mr := s.CreatePipeline("acme/app", "feature", gitlabtest.PipelineOptions{MergeRequestIID: 4})
	ids := func(path string) []int64 {
		var out []struct {
			ID  int64  `json:"id"`
			Ref string `json:"ref"`
		}
		do(t, s, "GET", path, token, "").json(t, &out)
		var got []int64
		for _, x := range out {
			got = append(got, x.ID)
			if x.ID == mr && x.Ref != "refs/merge-requests/4/head" {
				t.Errorf("merge request pipeline's ref %q", x.Ref)
			}
		}
		return got
	}
	if got := ids("/api/v4/projects/acme%2Fapp/pipelines"); len(got) != 2 || got[0] != mr || got[1] != parent {
		t.Errorf("pipelines %v, want %d and %d, not the child %d", got, mr, parent, child)
	}
	if got := ids("/api/v4/projects/acme%2Fapp/pipelines?source=parent_pipeline"); len(got) != 1 || got[0] != child {
		t.Errorf("child pipelines %v, want %d", got, child)
	}
	jobs := ids("/api/v4/projects/acme%2Fapp/pipelines/" + strconv.FormatInt(parent, 10) + "/jobs")
	bridges := ids("/api/v4/projects/acme%2Fapp/pipelines/" + strconv.FormatInt(parent, 10) + "/bridges")
	if len(jobs) != 1 || len(bridges) != 1 {
		t.Errorf("jobs %v, bridges %v: want the build job and the trigger job apart", jobs, bridges)
	}
}
