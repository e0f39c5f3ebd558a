package jenkins_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

func TestForceSchedulersFromParameterDefinitions(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	e.srv.Disable("release", true)
	ss, err := e.provider(nil).ForceSchedulers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ss {
		names = append(names, s.Name)
	}
	if want := "app/deploy app/web/feature%2Fx app/web/main"; strings.Join(names, " ") != want {
		t.Fatalf("schedulers %q, want %q (a disabled job has none)", names, want)
	}
	want := []ci.ForceField{
		{Name: "TARGET", Label: "TARGET", Type: ci.FieldChoice, Default: "staging", Choices: []string{"staging", "production"}},
		{Name: "DRY_RUN", Label: "DRY_RUN", Type: ci.FieldBool, Default: "true"},
		{Name: "NOTE", Label: "NOTE", Type: ci.FieldText, Default: "none"},
		{Name: "NOTES_LONG", Label: "NOTES_LONG", Type: ci.FieldText},
	}
	if s := ss[0]; !reflect.DeepEqual(s.Fields, want) || !reflect.DeepEqual(s.Builders, []string{"app/deploy"}) || s.Conn != "jk" {
		t.Errorf("scheduler %+v\nwant fields %+v (the password parameter is not offered)", s, want)
	}
	for _, s := range ss {
		for _, f := range s.Fields {
			if strings.Contains(f.Default, "SECRET") {
				t.Errorf("a password default is shown: %+v", f)
			}
		}
	}
}

func TestForceWithParameterFollowedToItsBuild(t *testing.T) {
	for _, csrf := range []bool{false, true} {
		t.Run(map[bool]string{false: "no crumb issuer", true: "crumb"}[csrf], func(t *testing.T) {
			e := newEnv(t, jenkinstest.Options{CSRF: csrf, AutoStart: true})
			p := e.provider(nil)
			res, err := p.Force(ctx(t), ci.ForceRequest{Builder: "app/deploy", Owner: "alice (telegram 1)",
				Params: map[string]string{"TARGET": "production", "DRY_RUN": "false"}})
			if err != nil {
				t.Fatal(err)
			}
			builds := e.srv.Builds("app/deploy")
			if len(builds) != 1 {
				t.Fatalf("builds %+v", builds)
			}
			b := builds[0]
			wantParams := map[string]string{"TARGET": "production", "DRY_RUN": "false", "NOTE": "none", "NOTES_LONG": "", "DEPLOY_KEY": "SECRETdefault"}
			if !reflect.DeepEqual(b.Params, wantParams) || b.Cause.UserID != fakeUser {
				t.Errorf("build %+v, want params %v", b, wantParams)
			}
			if len(res.RequestIDs) != 1 || res.Ref != "build app/deploy#1 (queue item 1)" {
				t.Errorf("result %+v", res)
			}
			posts := e.srv.Posts()
			if len(posts) != 1 || posts[0].Path != "job/app/job/deploy/buildWithParameters" || posts[0].Form.Has("DEPLOY_KEY") {
				t.Errorf("posts %+v (the password is never sent)", posts)
			}
			running, err := p.RunningBuilds(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(running) != 1 || running[0].RequestID != res.RequestIDs[0] {
				t.Errorf("the forced build %+v does not carry the request id %q", running, res.RequestIDs)
			}
		})
	}
}

func TestForceQueuedBuildIsFollowedByItsQueueItem(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{CSRF: true})
	p := e.provider(func(c *jenkins.Config) { c.QueueWait = time.Millisecond })
	res, err := p.Force(ctx(t), ci.ForceRequest{Builder: "release"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ref != "queue item 1 of release" || !reflect.DeepEqual(res.RequestIDs, []string{"queue/1"}) {
		t.Errorf("result %+v", res)
	}
	if posts := e.srv.Posts(); len(posts) != 1 || posts[0].Path != "job/release/build" {
		t.Errorf("posts %+v: a job without parameters is built with build", posts)
	}
	n := e.srv.Start(1)
	b, err := p.Build(ctx(t), jenkins.BuildID("release", n))
	if err != nil {
		t.Fatal(err)
	}
	if b.RequestID != "queue/1" {
		t.Errorf("request id %q", b.RequestID)
	}
}

func TestForceRefusals(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	e.srv.Disable("release", true)
	p := e.provider(nil)
	for _, tt := range []struct {
		name string
		req  ci.ForceRequest
		want string
	}{
		{"unknown job", ci.ForceRequest{Builder: "nope"}, "no job nope on jk"},
		{"disabled", ci.ForceRequest{Builder: "release"}, "job release on jk is disabled"},
		{"unknown parameter", ci.ForceRequest{Builder: "app/deploy", Params: map[string]string{"X": "1"}}, "app/deploy has no parameter X"},
		{"password is not a form field", ci.ForceRequest{Builder: "app/deploy", Params: map[string]string{"DEPLOY_KEY": "SECRETmine"}}, "app/deploy has no parameter DEPLOY_KEY"},
		{"bad choice", ci.ForceRequest{Builder: "app/deploy", Params: map[string]string{"TARGET": "moon"}}, "parameter TARGET must be one of staging, production"},
		{"bad boolean", ci.ForceRequest{Builder: "app/deploy", Params: map[string]string{"DRY_RUN": "maybe"}}, "parameter DRY_RUN must be true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Force(ctx(t), tt.req)
			var ue *ci.UserError
			if !errors.As(err, &ue) || ue.Msg != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if len(e.srv.Posts()) != 0 {
		t.Errorf("posts %+v", e.srv.Posts())
	}
}

func TestForceCancelledInTheQueue(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(func(c *jenkins.Config) { c.QueueWait = time.Minute }) // until the test cancels the item
	done := make(chan error, 1)
	go func() {
		_, err := p.Force(ctx(t), ci.ForceRequest{Builder: "release"})
		done <- err
	}()
	if err := e.srv.WaitFor(ctx(t), func() bool { return len(e.srv.Posts()) == 1 }); err != nil {
		t.Fatal(err)
	}
	e.srv.Cancel(1)
	err := <-done
	var ue *ci.UserError
	if !errors.As(err, &ue) || ue.Msg != "Jenkins cancelled the queued build of release" {
		t.Errorf("error %v", err)
	}
}

func TestCrumbRenewedWhenItsSessionEnds(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{CSRF: true, AutoStart: true})
	p := e.provider(nil)
	if _, err := p.Force(ctx(t), ci.ForceRequest{Builder: "release"}); err != nil {
		t.Fatal(err)
	}
	e.srv.ExpireSessions() // the crumb herald holds is no longer valid
	if _, err := p.Force(ctx(t), ci.ForceRequest{Builder: "release"}); err != nil {
		t.Fatalf("second force after the session ended: %v", err)
	}
	if n := len(e.srv.Builds("release")); n != 2 {
		t.Errorf("%d builds, want 2", n)
	}
}

func TestStop(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{CSRF: true})
	p := e.provider(nil)
	n := e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "")
	id := jenkins.BuildID("release", n)
	if err := p.Stop(ctx(t), id, "no reason place"); err != nil {
		t.Fatal(err)
	}
	if b := e.srv.Builds("release")[0]; b.Building || b.Result != "ABORTED" {
		t.Errorf("build %+v, want aborted", b)
	}
	err := p.Stop(ctx(t), id, "")
	var ue *ci.UserError
	if !errors.As(err, &ue) || ue.Msg != "build release#1 has already finished" {
		t.Errorf("second stop: %v", err)
	}
	if err := p.Stop(ctx(t), "release#7", ""); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("stop of a missing build: %v", err)
	}
}

func TestRebuildWithTheBuildsParameters(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{CSRF: true, AutoStart: true})
	p := e.provider(nil)
	n := e.play("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.UserCause("bob"),
		Params: map[string]string{"TARGET": "production", "DRY_RUN": "false", "NOTE": "hotfix", "DEPLOY_KEY": "SECRETbobs"}}, "FAILURE")
	res, err := p.Rebuild(ctx(t), jenkins.BuildID("app/deploy", n), "alice")
	if err != nil {
		t.Fatal(err)
	}
	builds := e.srv.Builds("app/deploy")
	if len(builds) != 2 {
		t.Fatalf("builds %+v", builds)
	}
	want := map[string]string{"TARGET": "production", "DRY_RUN": "false", "NOTE": "hotfix", "NOTES_LONG": "", "DEPLOY_KEY": "SECRETdefault"}
	if !reflect.DeepEqual(builds[1].Params, want) {
		t.Errorf("rebuilt with %v, want %v (a password parameter comes back to its default)", builds[1].Params, want)
	}
	if res.Ref != "rebuild of app/deploy#1: build app/deploy#2 (queue item 2)" || !reflect.DeepEqual(res.RequestIDs, []string{"queue/2"}) {
		t.Errorf("result %+v", res)
	}
	_, err = p.Rebuild(ctx(t), jenkins.BuildID("app/deploy", 2), "alice")
	var ue *ci.UserError
	if !errors.As(err, &ue) || ue.Msg != "build app/deploy#2 is still running" {
		t.Errorf("rebuild of a running build: %v", err)
	}
}

func TestWorkers(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	e.srv.SetNodes(jenkinstest.Node{Name: "Built-In Node", Executors: 2, Idle: true},
		jenkinstest.Node{Name: "linux-1", Executors: 4, Idle: false},
		jenkinstest.Node{Name: "mac-1", Executors: 1, Offline: true, Idle: true})
	ws, err := e.provider(nil).Workers(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []ci.Worker{
		{Conn: "jk", ID: "Built-In Node", Name: "Built-In Node", Connected: true},
		{Conn: "jk", ID: "linux-1", Name: "linux-1", Connected: true, Busy: true},
		{Conn: "jk", ID: "mac-1", Name: "mac-1"},
	}
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("workers\n got %+v\nwant %+v", ws, want)
	}
}

func TestRebuildOfAJobWithoutParameters(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{AutoStart: true})
	p := e.provider(nil)
	n := e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "FAILURE")
	res, err := p.Rebuild(ctx(t), jenkins.BuildID("release", n), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if posts := e.srv.Posts(); len(posts) != 1 || posts[0].Path != "job/release/build" {
		t.Errorf("posts %+v", posts)
	}
	if res.Ref != "rebuild of release#1: build release#2 (queue item 2)" {
		t.Errorf("ref %q", res.Ref)
	}
	e.srv.Disable("release", true)
	_, err = p.Rebuild(ctx(t), jenkins.BuildID("release", n), "alice")
	var ue *ci.UserError
	if !errors.As(err, &ue) || ue.Msg != "job release on jk is disabled" {
		t.Errorf("rebuild of a disabled job: %v", err)
	}
}

// A build request that schedules nothing is answered with a redirect to the job, not 201:
// herald says so rather than "queued".
func TestForceNotQueued(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	e.srv.AddJob("vetoed", jenkinstest.JobOptions{})
	e.srv.VetoQueue("vetoed", true)
	p := e.provider(nil)
	res, err := p.Force(ctx(t), ci.ForceRequest{Builder: "vetoed"})
	var ue *ci.UserError
	if !errors.As(err, &ue) || ue.Msg != "Jenkins did not queue the build of vetoed" {
		t.Errorf("force answered %+v, %v; want that Jenkins did not queue it", res, err)
	}
	if len(e.srv.Posts()) != 1 {
		t.Errorf("posts %+v; want the one build request", e.srv.Posts())
	}
}
