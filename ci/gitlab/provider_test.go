package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

const testToken = "glpat-test-token-1234"

func newFake(t *testing.T, opts gitlabtest.Options) *gitlabtest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s, err := gitlabtest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newProvider(t *testing.T, fake *gitlabtest.Server, change func(c *gitlab.Config), projects ...string) *gitlab.Provider {
	t.Helper()
	cfg := gitlab.Config{Name: "gl", URL: fake.URL(), Projects: projects, Token: testToken, WebhookSecret: testSecret}
	if change != nil {
		change(&cfg)
	}
	p, err := gitlab.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

var failingUnit = []gitlabtest.JobSpec{{Stage: "build", Name: "compile"}, {Stage: "test", Name: "unit", FailRuns: 1}, {Stage: "deploy", Name: "ship"}}

func TestBuilders(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	fake.AddProject("acme/sub/lib", "main")
	one := newProvider(t, fake, nil, "acme/app")
	bs, err := one.Builders(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Name != "app" || bs[0].ID != "acme/app" || !bs[0].Online || bs[0].Conn != "gl" {
		t.Errorf("builders %+v", bs)
	}
	two := newProvider(t, fake, nil, "acme/app", "acme/sub/lib")
	bs, err = two.Builders(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Name != "acme/app" || bs[1].Name != "acme/sub/lib" {
		t.Errorf("builders %+v", bs)
	}
	// A project the token cannot read is offline, and the others are still listed: a
	// project access token sees its own project alone.
	missing := newProvider(t, fake, nil, "acme/app", "acme/gone")
	bs, err = missing.Builders(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || !bs[0].Online || bs[1].Name != "acme/gone" || bs[1].Online || bs[1].Description != "the token of gl cannot read this project" {
		t.Errorf("builders with an unreadable project %+v", bs)
	}
	if _, err := missing.Overview(ctx(t)); err != nil {
		t.Errorf("overview with an unreadable project: %v", err)
	}
	if _, err := missing.BuildsChangedSince(ctx(t), time.Now().Add(-time.Hour)); err != nil {
		t.Errorf("catch-up with an unreadable project: %v", err)
	}
	if _, err := missing.RunningBuilds(ctx(t)); err != nil {
		t.Errorf("running builds with an unreadable project: %v", err)
	}
	_, err = missing.ForceSchedulers(ctx(t))
	var ue *ci.UserError
	if !errors.As(err, &ue) || ue.Msg != "GitLab at gl has no project acme/gone that the token can see" || !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("error %v", err)
	}
}

func TestBuildsThroughTheirStates(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main", "develop")
	fake.SetCommit("acme/app", gitlabtest.Commit{SHA: strings.Repeat("ab", 20), AuthorName: "Ada Lovelace", Message: "Fix the cache\n\nbody"})
	p := newProvider(t, fake, nil, "acme/app")
	id := fake.CreatePipeline("acme/app", "develop", gitlabtest.PipelineOptions{User: gitlabtest.User{ID: 7, Username: "grace"}, Jobs: failingUnit})
	bid := gitlab.BuildID(id, 1)

	running, err := p.RunningBuilds(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 || running[0].ID != bid || running[0].StateText != "pending" || running[0].Complete {
		t.Fatalf("running %+v", running)
	}
	if err := fake.Start(id); err != nil {
		t.Fatal(err)
	}
	b, err := p.Build(ctx(t), bid)
	if err != nil {
		t.Fatal(err)
	}
	if b.CurrentStep != "build / compile" || b.StartedAt.IsZero() || b.Complete {
		t.Errorf("running build %+v", b)
	}
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	last, err := p.LastBuilds(ctx(t), "app", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 {
		t.Fatalf("last %+v", last)
	}
	b = last[0]
	want := ci.Build{
		Conn: "gl", ID: bid, RequestID: bid, Number: 1, Attempt: 1, Builder: "app", BuilderID: "acme/app",
		Branch: "develop", Revision: strings.Repeat("ab", 20), Owner: "grace", Author: "Ada Lovelace", Reason: "Fix the cache",
		Complete: true, Result: ci.ResultFailure, StateText: "failed", FailedStep: "test / unit",
		URL: fmt.Sprintf("%s/acme/app/-/pipelines/%d", fake.URL(), id),
	}
	b.StartedAt, b.FinishedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("last build\n got %+v\nwant %+v", b, want)
	}
	if running, err := p.RunningBuilds(ctx(t)); err != nil || len(running) != 0 {
		t.Errorf("running after the finish: %+v, %v", running, err)
	}
	if _, err := p.LastBuilds(ctx(t), "nope", 1); err == nil || err.Error() != "no project nope on gl" {
		t.Errorf("unknown builder: %v", err)
	}
}

func TestBuildsChangedSincePagesAndOrders(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	before := time.Now().Add(-time.Hour)
	var ids []int64
	for i := range 130 {
		id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{})
		if i == 0 {
			fake.Touch(id, before.Add(-time.Minute)) // not changed since
		} else {
			ids = append(ids, id)
		}
	}
	start := fake.Requests()
	bs, err := p.BuildsChangedSince(ctx(t), before)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != len(ids) {
		t.Fatalf("%d builds, want %d", len(bs), len(ids))
	}
	seen := map[string]bool{}
	for i, b := range bs {
		if seen[b.ID] {
			t.Errorf("build %s twice", b.ID)
		}
		seen[b.ID] = true
		if i > 0 && changedAt(b).Before(changedAt(bs[i-1])) {
			t.Errorf("build %d out of order", i)
		}
	}
	// Two pages of pipelines, and a pipeline and its jobs for each.
	if got, want := fake.Requests()-start, 2+2*len(ids); got != want {
		t.Errorf("%d requests, want %d", got, want)
	}
}

func changedAt(b ci.Build) time.Time {
	if b.Complete {
		return b.FinishedAt
	}
	return b.StartedAt
}

func TestRetriedPipelineIsANewBuild(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	since := time.Now().Add(-time.Minute)
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: failingUnit})
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	bs, err := p.BuildsChangedSince(ctx(t), since)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != gitlab.BuildID(id, 1) || bs[0].Result != ci.ResultFailure {
		t.Fatalf("first run %+v", bs)
	}
	first := bs[0]
	res, err := p.Rebuild(ctx(t), first.ID, "alice (telegram 1)")
	if err != nil {
		t.Fatal(err)
	}
	next := gitlab.BuildID(id, 2)
	if len(res.RequestIDs) != 1 || res.RequestIDs[0] != next || res.Ref != fmt.Sprintf("pipeline %d run 2", id) {
		t.Errorf("rebuild %+v", res)
	}
	if st, _ := fake.Pipeline(id); st.Status != "running" || st.Runs != 2 {
		t.Errorf("pipeline after the retry %+v", st)
	}
	b, err := p.Build(ctx(t), next)
	if err != nil {
		t.Fatal(err)
	}
	if b.Attempt != 2 || b.Number != first.Number || b.Complete || b.StartedAt.Before(first.FinishedAt) {
		t.Errorf("second run %+v (first finished %s)", b, first.FinishedAt)
	}
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	bs, err = p.BuildsChangedSince(ctx(t), first.FinishedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != next || bs[0].Result != ci.ResultSuccess || bs[0].Attempt != 2 || bs[0].NumberText() != "#1 (attempt 2)" {
		t.Fatalf("second run %+v", bs)
	}
	if _, err := p.Build(ctx(t), first.ID); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("the first run's id now: %v, want not found", err)
	}
	if _, err := p.Rebuild(ctx(t), next, ""); err == nil || err.Error() != "pipeline #1 (attempt 2) did not fail (success): there are no failed jobs to retry" {
		t.Errorf("rebuild of a success: %v", err)
	}
}

func TestForceWithVariables(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main", "develop", "release")
	p := newProvider(t, fake, nil, "acme/app")
	ss, err := p.ForceSchedulers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != "app" || len(ss[0].Fields) != 2 {
		t.Fatalf("schedulers %+v", ss)
	}
	ref := ss[0].Fields[0]
	if ref.Name != "ref" || ref.Type != ci.FieldChoice || ref.Default != "main" || strings.Join(ref.Choices, ",") != "main,develop,release" {
		t.Errorf("ref field %+v", ref)
	}
	if v := ss[0].Fields[1]; v.Name != "variables" || v.Type != ci.FieldText {
		t.Errorf("variables field %+v", v)
	}
	res, err := p.Force(ctx(t), ci.ForceRequest{Scheduler: "app", Builder: "app",
		Params: map[string]string{"ref": "develop", "variables": "DEPLOY=staging\n\nDRY_RUN = a=b\n"}})
	if err != nil {
		t.Fatal(err)
	}
	ids := fake.Pipelines()
	if len(ids) != 1 {
		t.Fatalf("pipelines %v", ids)
	}
	st, _ := fake.Pipeline(ids[0])
	if st.Ref != "develop" || st.Source != "api" || st.Variables["DEPLOY"] != "staging" || st.Variables["DRY_RUN"] != " a=b" || len(st.Variables) != 2 {
		t.Errorf("pipeline %+v", st)
	}
	if len(res.RequestIDs) != 1 || res.RequestIDs[0] != gitlab.BuildID(ids[0], 1) {
		t.Errorf("force %+v", res)
	}
	b, err := p.Build(ctx(t), res.RequestIDs[0])
	if err != nil || b.RequestID != res.RequestIDs[0] {
		t.Errorf("the forced build %+v, %v", b, err)
	}

	refusals := []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"not KEY=VALUE", map[string]string{"variables": "A=1\nnope"}, "variables: line 2 is not KEY=VALUE"},
		{"bad key", map[string]string{"variables": "A-B=1"}, "variables: line 1: a key has letters, digits and _ only"},
		{"twice", map[string]string{"variables": "A=1\nA=2"}, "variables: A is given twice"},
		{"unknown field", map[string]string{"branch": "main"}, "app has no field branch (it takes ref and variables)"},
		{"unknown branch", map[string]string{"ref": "nope"}, "GitLab refused to start app: Reference not found"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Force(ctx(t), ci.ForceRequest{Builder: "app", Params: tt.params})
			var ue *ci.UserError
			if !errors.As(err, &ue) || ue.Msg != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if n := len(fake.Pipelines()); n != 1 {
		t.Errorf("%d pipelines after the refusals", n)
	}
}

func TestStop(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{})
	if err := fake.Start(id); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx(t), gitlab.BuildID(id, 1), "no reason"); err != nil {
		t.Fatal(err)
	}
	if st, _ := fake.Pipeline(id); st.Status != "canceled" {
		t.Errorf("status %s", st.Status)
	}
	b, err := p.Build(ctx(t), gitlab.BuildID(id, 1))
	if err != nil || b.Result != ci.ResultCancelled {
		t.Errorf("build %+v, %v", b, err)
	}
	if err := p.Stop(ctx(t), gitlab.BuildID(id, 1), ""); err == nil || err.Error() != "pipeline #1 has already finished" {
		t.Errorf("stop again: %v", err)
	}
	if err := p.Stop(ctx(t), "999999/1", ""); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("stop of no pipeline: %v", err)
	}
	if err := p.Stop(ctx(t), "x", ""); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("stop of a bad id: %v", err)
	}
	// A canceled pipeline may be retried.
	res, err := p.Rebuild(ctx(t), gitlab.BuildID(id, 1), "")
	if err != nil || res.RequestIDs[0] != gitlab.BuildID(id, 2) {
		t.Errorf("retry of a canceled pipeline %+v, %v", res, err)
	}
}

func TestWorkers(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	fake.AddRunner(gitlabtest.Runner{ID: 3, Description: "docker-1", Status: "online"})
	fake.AddRunner(gitlabtest.Runner{ID: 4, Description: "mac-mini", Status: "offline"})
	p := newProvider(t, fake, nil, "acme/app")
	ws, err := p.Workers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || !reflect.DeepEqual(ws[0], ci.Worker{Conn: "gl", ID: "3", Name: "docker-1", Connected: true}) || ws[1].Name != "mac-mini" || ws[1].Connected {
		t.Errorf("workers %+v", ws)
	}
	// GitLab answers 200 [] to a token that may see no runner (a Reporter's): said so.
	none := newFake(t, gitlabtest.Options{Role: "reporter"})
	none.AddProject("acme/app", "main")
	none.AddRunner(gitlabtest.Runner{ID: 3, Description: "docker-1", Status: "online"})
	none.AddRunner(gitlabtest.Runner{ID: 5, Description: "shared-1", Status: "online", Shared: true})
	_, err = newProvider(t, none, nil, "acme/app").Workers(ctx(t))
	var ue *ci.UserError
	if !errors.Is(err, ci.ErrUnsupported) || !errors.As(err, &ue) ||
		ue.Msg != "GitLab shows the token of gl no runners (it lists those of projects where the token's user is Maintainer, never the instance's)" {
		t.Errorf("no runners visible: %v", err)
	}
}

func TestTokenRefusedWithoutTheToken(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	for _, header := range []string{"", gitlab.HeaderAuthorization} {
		t.Run("header "+header, func(t *testing.T) {
			p := newProvider(t, fake, func(c *gitlab.Config) { c.Token, c.TokenHeader = "glpat-wrong-token", header }, "acme/app")
			_, err := p.Builders(ctx(t))
			var ue *ci.UserError
			if !errors.As(err, &ue) || ue.Msg != "GitLab refused the token of gl (401 Unauthorized): check auth in herald's config" || !errors.Is(err, gitlab.ErrAuth) {
				t.Fatalf("error %v", err)
			}
			if strings.Contains(err.Error(), "glpat-wrong-token") {
				t.Errorf("the error quotes the token: %v", err)
			}
			right := newProvider(t, fake, func(c *gitlab.Config) { c.TokenHeader = header }, "acme/app")
			if _, err := right.Builders(ctx(t)); err != nil {
				t.Errorf("the right token in header %q: %v", header, err)
			}
		})
	}
}

func TestRateLimitIsRetryAfter(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{RateLimit: 3})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	var err error
	for range 4 {
		if _, err = p.Builders(ctx(t)); err != nil {
			break
		}
	}
	wait, ok := ci.RetryAfter(err)
	if !ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("error %v: wait %s, %v", err, wait, ok)
	}
	var ue *ci.UserError
	if !errors.As(err, &ue) || !strings.HasPrefix(ue.Msg, "GitLab's rate limit for gl is used up: try again in ") {
		t.Errorf("message %v", err)
	}
	requests := fake.Requests()
	_, _ = p.Builders(ctx(t))
	if got := fake.Requests() - requests; got != 1 {
		t.Errorf("%d requests for one refused call: the client retried by itself", got)
	}
}

func TestWebhookReadsTheRunFromTheAPI(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{WebhookToken: testSecret})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: failingUnit})
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	if err := fake.Retry(id, gitlabtest.User{}); err != nil {
		t.Fatal(err)
	}
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	var finishes []ci.Build
	err := fake.WaitFor(ctx(t), func() bool {
		finishes = finishes[:0]
		for _, d := range fake.Deliveries() {
			dv, err := p.ParseWebhook(d.Header, d.Body)
			switch {
			case d.Event == "Job Hook":
				if !errors.Is(err, ci.ErrIgnoreEvent) {
					t.Fatalf("job hook: %v", err)
				}
			case err != nil:
				t.Fatalf("pipeline hook: %v", err)
			case dv.Events[0].Kind == ci.KindFinished:
				finishes = append(finishes, *dv.Events[0].Build)
			}
		}
		return len(finishes) == 2
	})
	if err != nil {
		t.Fatal(err)
	}
	// Both are read after the retry: the first finish's hook names the first run's jobs,
	// so it is still the first run's.
	if finishes[0].ID != gitlab.BuildID(id, 1) || finishes[0].Result != ci.ResultFailure || finishes[0].FailedStep != "test / unit" {
		t.Errorf("first finish %+v", finishes[0])
	}
	if finishes[1].ID != gitlab.BuildID(id, 2) || finishes[1].Result != ci.ResultSuccess {
		t.Errorf("second finish %+v", finishes[1])
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestFailureRetriedWhileAwayIsAFailureThenASuccess(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	fake := newFake(t, gitlabtest.Options{Clock: clock.Now})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	since := clock.Now()
	clock.advance(time.Minute)
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: failingUnit})
	clock.advance(time.Minute)
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	failedAt := clock.Now()
	clock.advance(10 * time.Minute)
	if err := fake.Retry(id, gitlabtest.User{ID: 9, Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	retriedAt := clock.Now()
	clock.advance(time.Minute)
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	bs, err := p.BuildsChangedSince(ctx(t), since)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 {
		t.Fatalf("builds %+v", bs)
	}
	first, second := bs[0], bs[1]
	if first.ID != gitlab.BuildID(id, 1) || first.Result != ci.ResultFailure || first.FailedStep != "test / unit" ||
		!first.FinishedAt.Equal(failedAt) || !first.Complete || first.Number != 1 {
		t.Errorf("first run %+v (failed at %s)", first, failedAt)
	}
	if second.ID != gitlab.BuildID(id, 2) || second.Result != ci.ResultSuccess || !second.StartedAt.Equal(retriedAt) || second.Attempt != 2 {
		t.Errorf("second run %+v (retried at %s)", second, retriedAt)
	}
	// Read after the first run's end, the second run alone.
	bs, err = p.BuildsChangedSince(ctx(t), failedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != gitlab.BuildID(id, 2) {
		t.Errorf("after the first end %+v", bs)
	}
}

func TestChildPipelinesAreNotBuilds(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	since := time.Now().Add(-time.Minute)
	parent := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{})
	child := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Source: "parent_pipeline"})
	for _, id := range []int64{parent, child} {
		if err := fake.Finish(id); err != nil {
			t.Fatal(err)
		}
	}
	bs, err := p.BuildsChangedSince(ctx(t), since)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != gitlab.BuildID(parent, 1) {
		t.Errorf("changed %+v", bs)
	}
	last, err := p.LastBuilds(ctx(t), "app", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].ID != gitlab.BuildID(parent, 1) {
		t.Errorf("last %+v", last)
	}
}
