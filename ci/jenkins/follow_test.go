package jenkins_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

// fixedClock is a ci.Clock on the test's clock whose waits never end (CatchUp is called
// by hand).
type fixedClock struct{ c *testClock }

func (f fixedClock) Now() time.Time                     { return f.c.Now() }
func (fixedClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

// TestFollowedByPolling: herald without the Notification plugin learns every start and
// finish from the Follower's catch-ups, each once: a build that started and finished
// between two polls, one still running, and its end at a later poll. A herald that was
// stopped for an hour finds the builds of that hour, more of one job than a poll reads.
func TestFollowedByPolling(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	bg := context.Background()
	p := e.provider(func(c *jenkins.Config) { c.PollInterval = 7 * time.Second })
	if got := p.FollowOptions().Poll; got != 7*time.Second {
		t.Errorf("poll %v, want the poll_interval", got)
	}
	sink := &memSink{}
	f := ci.NewFollower(p, sink, e.clock.Now(), ci.FollowOptions{Clock: fixedClock{e.clock}})
	e.clock.Add(time.Minute)
	failed := e.play("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.UserCause("bob")}, "")
	e.srv.Stages("app/deploy", failed, jenkinstest.Stage{Name: "Migrate", Status: "FAILED"})
	e.srv.Finish("app/deploy", failed, "FAILURE")
	e.clock.Add(time.Second)
	running := e.play(e.web[0], jenkinstest.Trigger{Cause: jenkinstest.SCMCause}, "")
	before := len(e.srv.Requests())
	if err := f.CatchUp(bg); err != nil {
		t.Fatal(err)
	}
	// One request reads every job; the failed Pipeline build's stages are one more, and the
	// Follower reads the nodes.
	if got := e.srv.Requests()[before:]; !reflect.DeepEqual(got, []string{"GET api/json", "GET job/app/job/deploy/1/wfapi/describe", "GET computer/api/json"}) {
		t.Errorf("a catch-up asked %q", got)
	}
	want := []string{
		"started app/deploy#1@q1  ", "finished app/deploy#1@q1  failure",
		"started app/web/main#1@q2 main ",
	}
	if got := sink.list(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q\nwant %q", got, want)
	}
	if fin := sink.events[1].Build; fin.FailedStep != "Migrate" || fin.Owner != "bob" {
		t.Errorf("finished build %+v", fin)
	}
	if err := f.CatchUp(bg); err != nil {
		t.Fatal(err)
	}
	if got := sink.list(); len(got) != 3 {
		t.Errorf("an unchanged catch-up delivered %q", got[3:])
	}
	e.clock.Add(time.Second)
	e.srv.Finish(e.web[0], running, "SUCCESS")
	if err := f.CatchUp(bg); err != nil {
		t.Fatal(err)
	}
	if got := sink.list(); len(got) != 4 || got[3] != "finished app/web/main#1@q2 main success" {
		t.Errorf("events %q", got)
	}

	// An hour without herald: 15 builds of release, more than a poll reads of one job.
	e.clock.Add(time.Hour)
	for range 15 {
		e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "SUCCESS")
	}
	if err := f.CatchUp(bg); err != nil {
		t.Fatal(err)
	}
	if got := sink.list(); len(got) != 4+30 || got[4] != "started release#1@q3  " || got[33] != "finished release#15@q17  success" {
		t.Errorf("%d events after the hour; first %q, last %q", len(got), got[4], got[len(got)-1])
	}
}
