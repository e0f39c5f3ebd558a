package gitlab_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

// withManualDeploy is a pipeline whose deploy job is an optional manual job.
var withManualDeploy = []gitlabtest.JobSpec{{Stage: "build", Name: "compile"}, {Stage: "deploy", Name: "ship", Manual: true, FailRuns: -1}}

// finishesOf parses every Pipeline Hook delivered so far, in order, and returns the
// finishes' builds.
func finishesOf(t *testing.T, fake *gitlabtest.Server, p *gitlab.Provider) []ci.Build {
	t.Helper()
	var out []ci.Build
	for _, d := range fake.Deliveries() {
		if d.Event != "Pipeline Hook" {
			continue
		}
		dv, err := p.ParseWebhook(d.Header, d.Body)
		if err != nil {
			t.Fatalf("pipeline hook: %v", err)
		}
		if ev := dv.Events[0]; ev.Kind == ci.KindFinished {
			out = append(out, *ev.Build)
		}
	}
	return out
}

// TestManualJobPlayedAfterSuccessIsANewRun: playing an optional manual job after the
// pipeline passed makes no new job, but the pipeline runs and finishes again: that finish
// is a run of its own, on the poll's path and on the hook's, and a finish read again keeps
// its number.
func TestManualJobPlayedAfterSuccessIsANewRun(t *testing.T) {
	for _, path := range []string{"poll", "hook"} {
		t.Run(path, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
			fake := newFake(t, gitlabtest.Options{Clock: clock.Now, WebhookToken: testSecret})
			fake.AddProject("acme/app", "main")
			p := newProvider(t, fake, nil, "acme/app")
			since := clock.Now()
			clock.advance(time.Minute)
			id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: withManualDeploy})
			if err := fake.Finish(id); err != nil {
				t.Fatal(err)
			}
			passedAt := clock.Now()
			read := func(since time.Time, finishes int) []ci.Build {
				if path == "hook" {
					var bs []ci.Build
					if err := fake.WaitFor(ctx(t), func() bool { bs = finishesOf(t, fake, p); return len(bs) >= finishes }); err != nil {
						t.Fatal(err)
					}
					return bs
				}
				bs, err := p.BuildsChangedSince(ctx(t), since)
				if err != nil {
					t.Fatal(err)
				}
				return bs
			}
			bs := read(since, 1)
			if len(bs) != 1 || bs[0].ID != gitlab.BuildID(id, 1) || bs[0].Result != ci.ResultSuccess {
				t.Fatalf("first run %+v", bs)
			}
			clock.advance(10 * time.Minute)
			if err := fake.Play(id, "ship"); err != nil {
				t.Fatal(err)
			}
			clock.advance(time.Minute)
			if err := fake.Finish(id); err != nil {
				t.Fatal(err)
			}
			shippedAt := clock.Now()
			bs = read(passedAt, 2)
			last := bs[len(bs)-1]
			if last.ID != gitlab.BuildID(id, 2) || last.Attempt != 2 || last.Result != ci.ResultWarnings ||
				last.FailedStep != "deploy / ship" || !last.FinishedAt.Equal(shippedAt) {
				t.Errorf("the run after the play %+v, want %s with warnings at %s", last, gitlab.BuildID(id, 2), shippedAt)
			}
			if path == "hook" && (len(bs) != 2 || bs[0].ID != gitlab.BuildID(id, 1)) {
				t.Errorf("the hooks' finishes read again %+v, want run 1 then run 2", bs)
			}
			b, err := p.Build(ctx(t), gitlab.BuildID(id, 2))
			if err != nil || b.ID != gitlab.BuildID(id, 2) {
				t.Errorf("build of run 2: %+v, %v", b, err)
			}
		})
	}
}

// TestRetryThatRetriesNothingNamesNoRun: GitLab answers a pipeline's retry 201 even when
// it retried no job; the button then waits for no run that will never come.
func TestRetryThatRetriesNothingNamesNoRun(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: []gitlabtest.JobSpec{
		{Stage: "test", Name: "unit", FailRuns: -1, NotRetryable: true},
	}})
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	res, err := p.Rebuild(ctx(t), gitlab.BuildID(id, 1), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RequestIDs) != 0 || res.Ref != fmt.Sprintf("pipeline %d: GitLab retried no job", id) {
		t.Errorf("rebuild %+v, want no request id", res)
	}
	if st, _ := fake.Pipeline(id); st.Status != "failed" || st.Runs != 1 {
		t.Errorf("pipeline after the retry %+v", st)
	}
}

// TestAutomaticRetryIsOneRun: a job the retry: keyword retried as it failed is a try of the
// same run, which GitLab showed running, then passed: no failed run before, on the poll's
// path and on the hook's.
func TestAutomaticRetryIsOneRun(t *testing.T) {
	flaky := []gitlabtest.JobSpec{{Stage: "build", Name: "compile"}, {Stage: "test", Name: "unit", FailRuns: 1, AutoRetry: 1}}
	for _, path := range []string{"poll", "hook"} {
		t.Run(path, func(t *testing.T) {
			clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
			fake := newFake(t, gitlabtest.Options{Clock: clock.Now, WebhookToken: testSecret})
			fake.AddProject("acme/app", "main")
			p := newProvider(t, fake, nil, "acme/app")
			since := clock.Now()
			clock.advance(time.Minute)
			id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: flaky})
			if err := fake.Start(id); err != nil {
				t.Fatal(err)
			}
			if path == "poll" {
				if bs, err := p.BuildsChangedSince(ctx(t), since); err != nil || len(bs) != 1 || bs[0].Complete {
					t.Fatalf("running %+v, %v", bs, err)
				}
			}
			clock.advance(time.Minute)
			if err := fake.Finish(id); err != nil {
				t.Fatal(err)
			}
			var bs []ci.Build
			if path == "hook" {
				if err := fake.WaitFor(ctx(t), func() bool { bs = finishesOf(t, fake, p); return len(bs) >= 1 }); err != nil {
					t.Fatal(err)
				}
			} else {
				var err error
				if bs, err = p.BuildsChangedSince(ctx(t), since); err != nil {
					t.Fatal(err)
				}
			}
			if len(bs) != 1 || bs[0].ID != gitlab.BuildID(id, 1) || bs[0].Result != ci.ResultSuccess {
				t.Errorf("finishes %+v, want run 1 passed alone", bs)
			}
			if st, _ := fake.Pipeline(id); st.Jobs != 3 || st.Status != "success" {
				t.Errorf("pipeline %+v, want the unit job tried twice", st)
			}
		})
	}
}

// TestMergeRequestPipelineIsOneBranch: a merge request pipeline is on branch "!<iid>" read
// from the API (ref refs/merge-requests/<iid>/head) and from its Pipeline Hook (ref: the
// source branch), so its problem and recovery are one series whichever path came first.
func TestMergeRequestPipelineIsOneBranch(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{WebhookToken: testSecret})
	fake.AddProject("acme/app", "main", "feature")
	p := newProvider(t, fake, nil, "acme/app")
	since := time.Now().Add(-time.Minute)
	id := fake.CreatePipeline("acme/app", "feature", gitlabtest.PipelineOptions{MergeRequestIID: 12})
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	var hooked []ci.Build
	if err := fake.WaitFor(ctx(t), func() bool { hooked = finishesOf(t, fake, p); return len(hooked) >= 1 }); err != nil {
		t.Fatal(err)
	}
	polled, err := p.BuildsChangedSince(ctx(t), since)
	if err != nil {
		t.Fatal(err)
	}
	if len(polled) != 1 || polled[0].Branch != "!12" || hooked[0].Branch != "!12" {
		t.Errorf("branch from the API %+v, from the hook %+v; want !12 on both", polled, hooked)
	}
	if st, _ := fake.Pipeline(id); st.Ref != "refs/merge-requests/12/head" || st.Source != "merge_request_event" {
		t.Errorf("the fake's pipeline %+v", st)
	}
}

// TestFailedTriggerJobIsTheFailedStep: a pipeline that failed in its trigger job alone (a
// child pipeline that failed, strategy: depend) names that job, which neither the jobs API
// nor the hook lists, on both paths.
func TestFailedTriggerJobIsTheFailedStep(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{WebhookToken: testSecret})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	since := time.Now().Add(-time.Minute)
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: []gitlabtest.JobSpec{
		{Stage: "build", Name: "compile"}, {Stage: "downstream", Name: "deploy-child", Trigger: true, FailRuns: -1},
	}})
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	var hooked []ci.Build
	if err := fake.WaitFor(ctx(t), func() bool { hooked = finishesOf(t, fake, p); return len(hooked) >= 1 }); err != nil {
		t.Fatal(err)
	}
	polled, err := p.BuildsChangedSince(ctx(t), since)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range append(hooked, polled...) {
		if b.Result != ci.ResultFailure || b.FailedStep != "downstream / deploy-child" {
			t.Errorf("build %+v, want a failure in downstream / deploy-child", b)
		}
	}
	if len(polled) != 1 {
		t.Errorf("polled %+v", polled)
	}
}

// TestBurstOfChangesIsReadThrough: more pipelines changed than one catch-up reads: the
// next catch-up reads on from where the first stopped, though it asks from as far back,
// instead of reading the same ones again at every poll.
func TestBurstOfChangesIsReadThrough(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	fake := newFake(t, gitlabtest.Options{Clock: clock.Now})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	since := clock.Now()
	var ids []int64
	for range gitlab.MaxChangedPipelines + 30 {
		clock.advance(time.Second)
		ids = append(ids, fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{}))
	}
	got := map[string]bool{}
	for poll := range 2 {
		bs, err := p.BuildsChangedSince(ctx(t), since)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) > gitlab.MaxChangedPipelines {
			t.Errorf("poll %d read %d pipelines, more than %d", poll, len(bs), gitlab.MaxChangedPipelines)
		}
		for _, b := range bs {
			got[b.ID] = true
		}
	}
	for _, id := range ids {
		if !got[gitlab.BuildID(id, 1)] {
			t.Fatalf("pipeline %d never read in two polls (read %d of %d)", id, len(got), len(ids))
		}
	}
}

// TestRetriedTriggerJobIsANewRun: a pipeline that failed in its trigger job alone, retried:
// GitLab makes a new trigger job, which the jobs API does not list, so no new job tells the
// run; its new finish does. The retry button names that run, which then recovers.
func TestRetriedTriggerJobIsANewRun(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	fake := newFake(t, gitlabtest.Options{Clock: clock.Now})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, nil, "acme/app")
	since := clock.Now()
	clock.advance(time.Minute)
	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: []gitlabtest.JobSpec{
		{Stage: "build", Name: "compile"}, {Stage: "downstream", Name: "deploy-child", Trigger: true, FailRuns: 1},
	}})
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
	failedAt := bs[0].FinishedAt
	clock.advance(time.Minute)
	res, err := p.Rebuild(ctx(t), bs[0].ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.RequestIDs) != 1 || res.RequestIDs[0] != gitlab.BuildID(id, 2) {
		t.Errorf("rebuild %+v, want run 2", res)
	}
	clock.advance(time.Minute)
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	bs, err = p.BuildsChangedSince(ctx(t), failedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != gitlab.BuildID(id, 2) || bs[0].Result != ci.ResultSuccess || bs[0].RequestID != res.RequestIDs[0] {
		t.Errorf("after the retry %+v, want run 2 passed", bs)
	}
}
