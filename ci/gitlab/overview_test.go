package gitlab_test

import (
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

func TestOverviewIsSharedForItsTTL(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	fake := newFake(t, gitlabtest.Options{Clock: clock.Now})
	fake.AddProject("acme/app", "main")
	fake.AddProject("acme/lib", "main")
	p := newProvider(t, fake, func(c *gitlab.Config) { c.Clock = clock.Now }, "acme/app", "acme/lib")
	old := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: failingUnit})
	clock.advance(time.Minute)
	newer := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{})
	running := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{})
	for _, id := range []int64{old, newer} {
		if err := fake.Finish(id); err != nil {
			t.Fatal(err)
		}
	}
	if err := fake.Start(running); err != nil {
		t.Fatal(err)
	}
	ov, err := p.Overview(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Builders) != 2 || ov.Builders[0].Name != "acme/app" || ov.Builders[1].Name != "acme/lib" {
		t.Errorf("builders %+v", ov.Builders)
	}
	if len(ov.Running) != 1 || ov.Running[0].ID != gitlab.BuildID(running, 1) || ov.Running[0].CurrentStep != "build / compile" {
		t.Errorf("running %+v", ov.Running)
	}
	if b, ok := ov.Last["acme/app"]; !ok || b.ID != gitlab.BuildID(newer, 1) || b.Result != ci.ResultSuccess {
		t.Errorf("last of app %+v", ov.Last)
	}
	if _, ok := ov.Last["acme/lib"]; ok || !ov.At.Equal(clock.Now()) {
		t.Errorf("last of lib %+v, at %s", ov.Last, ov.At)
	}
	asked := fake.Requests()
	clock.advance(gitlab.DefaultOverviewTTL - time.Second)
	if again, err := p.Overview(ctx(t)); err != nil || !again.At.Equal(ov.At) || fake.Requests() != asked {
		t.Errorf("within the TTL: %d requests, at %s, %v", fake.Requests()-asked, again.At, err)
	}
	clock.advance(time.Second)
	if again, err := p.Overview(ctx(t)); err != nil || !again.At.Equal(clock.Now()) || fake.Requests() == asked {
		t.Errorf("after the TTL: %d requests, at %s, %v", fake.Requests()-asked, again.At, err)
	}
}
