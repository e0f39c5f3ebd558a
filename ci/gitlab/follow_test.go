package gitlab_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

type keySink struct{ keys []string }

func (s *keySink) Deliver(_ context.Context, ev ci.Event) error {
	s.keys = append(s.keys, ev.Key())
	return nil
}

// followClock is a ci.Clock on the test's clock whose waits never end (CatchUp is called
// by hand).
type followClock struct{ c *fakeClock }

func (f followClock) Now() time.Time                     { return f.c.Now() }
func (followClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

// TestFollowedByPolling: without webhooks herald learns every start and finish from the
// Follower's catch-ups, what finished while nobody asked included, each once; a retry's
// run is news of its own.
func TestFollowedByPolling(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	fake := newFake(t, gitlabtest.Options{Clock: clock.Now})
	fake.AddProject("acme/app", "main")
	fake.AddRunner(gitlabtest.Runner{ID: 3, Description: "docker-1", Status: "online"})
	p := newProvider(t, fake, func(c *gitlab.Config) { c.PollInterval = 15 * time.Second }, "acme/app")
	if got := p.FollowOptions().Poll; got != 15*time.Second {
		t.Errorf("poll %v, want the poll_interval", got)
	}
	if got := p.FollowOptions().CatchUpSlack; got != ci.DefaultCatchUpSlack {
		t.Errorf("slack %v, want the default for a short interval", got)
	}
	sink := &keySink{}
	f := ci.NewFollower(p, sink, clock.Now(), ci.FollowOptions{Clock: followClock{clock}})
	clock.advance(time.Minute)
	failed := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: failingUnit})
	clock.advance(time.Minute)
	if err := fake.Finish(failed); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute)
	running := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{})
	if err := fake.Start(running); err != nil {
		t.Fatal(err)
	}
	c := context.Background()
	if err := f.CatchUp(c); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"gl/build/" + gitlab.BuildID(failed, 1) + "/started",
		"gl/build/" + gitlab.BuildID(failed, 1) + "/finished",
		"gl/build/" + gitlab.BuildID(running, 1) + "/started",
	}
	if !reflect.DeepEqual(sink.keys, want) {
		t.Fatalf("events %q\nwant %q", sink.keys, want)
	}
	if err := f.CatchUp(c); err != nil {
		t.Fatal(err)
	}
	if len(sink.keys) != 3 {
		t.Errorf("an unchanged catch-up delivered %q", sink.keys[3:])
	}
	clock.advance(time.Minute)
	if err := fake.Retry(failed, gitlabtest.User{}); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Minute)
	if err := fake.Finish(failed); err != nil {
		t.Fatal(err)
	}
	if err := fake.Finish(running); err != nil {
		t.Fatal(err)
	}
	if err := f.CatchUp(c); err != nil {
		t.Fatal(err)
	}
	want = append(want,
		"gl/build/"+gitlab.BuildID(failed, 2)+"/started",
		"gl/build/"+gitlab.BuildID(failed, 2)+"/finished",
		"gl/build/"+gitlab.BuildID(running, 1)+"/finished",
	)
	if !reflect.DeepEqual(sink.keys, want) {
		t.Errorf("after the retry %q\nwant %q", sink.keys, want)
	}
}

// A token that may not list runners (GitLab answers 403) leaves workers out; following the
// pipelines goes on. The fake has no such token, so a proxy in front of it answers 403.
func TestWorkersForbiddenIsUnsupported(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	target, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/api/v4/runners") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"message":"403 Forbidden"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	p := newProvider(t, fake, func(c *gitlab.Config) { c.URL = front.URL }, "acme/app")
	_, err = p.Workers(ctx(t))
	var ue *ci.UserError
	if !errors.Is(err, ci.ErrUnsupported) || !errors.As(err, &ue) || ue.Msg != "GitLab does not let the token of gl list runners" {
		t.Fatalf("error %v", err)
	}
	f := ci.NewFollower(p, &keySink{}, time.Now(), ci.FollowOptions{})
	if err := f.CatchUp(ctx(t)); err != nil {
		t.Errorf("catch-up: %v", err)
	}
}

// TestLongPollIntervalLooksBackTwoIntervals: with a poll_interval longer than the default
// slack, each catch-up looks back two intervals, so what was updated just before the last
// poll's cursor is still read.
func TestLongPollIntervalLooksBackTwoIntervals(t *testing.T) {
	fake := newFake(t, gitlabtest.Options{})
	fake.AddProject("acme/app", "main")
	p := newProvider(t, fake, func(c *gitlab.Config) { c.PollInterval = 10 * time.Minute }, "acme/app")
	if got := p.FollowOptions().CatchUpSlack; got != 20*time.Minute {
		t.Errorf("slack %v, want two poll intervals (20m)", got)
	}
}
