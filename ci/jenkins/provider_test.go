package jenkins_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

const (
	fakeUser  = "herald"
	fakeToken = "11SECRETapitoken0123456789abcdef"
)

// testClock is the clock the fake and the provider share, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a fake Jenkins with a freestyle job "release" (no parameters), a Pipeline
// "app/deploy" with a parameter of every kind, and a multibranch pipeline "app/web" with
// branches main and feature/x.
type env struct {
	t     *testing.T
	srv   *jenkinstest.Server
	clock *testClock
	web   []string // the branch jobs' full names
}

var deployParams = []jenkinstest.ParamDef{
	{Name: "TARGET", Type: jenkinstest.ParamChoice, Choices: []string{"staging", "production"}},
	{Name: "DRY_RUN", Type: jenkinstest.ParamBoolean, Default: "true"},
	{Name: "NOTE", Type: jenkinstest.ParamString, Default: "none"},
	{Name: "NOTES_LONG", Type: jenkinstest.ParamText},
	{Name: "DEPLOY_KEY", Type: jenkinstest.ParamPassword, Default: "SECRETdefault"},
}

func newEnv(t *testing.T, opts jenkinstest.Options) *env {
	t.Helper()
	e := &env{t: t, clock: &testClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}}
	if opts.Username == "" {
		opts.Username, opts.Token = fakeUser, fakeToken
	}
	opts.Now = e.clock.Now
	srv, err := jenkinstest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	srv.AddJob("release", jenkinstest.JobOptions{})
	srv.AddJob("app/deploy", jenkinstest.JobOptions{Pipeline: true, Params: deployParams})
	e.web = srv.AddMultibranch("app/web", false, "main", "feature/x")
	return e
}

func (e *env) provider(change func(*jenkins.Config)) *jenkins.Provider {
	e.t.Helper()
	cfg := jenkins.Config{
		Name: "jk", URL: e.srv.URL(), Auth: jenkins.Auth{Kind: "basic", Username: fakeUser, Password: fakeToken},
		Clock: e.clock.Now, OverviewTTL: time.Nanosecond,
	}
	if change != nil {
		change(&cfg)
	}
	p, err := jenkins.New(cfg, zerolog.Nop())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// play runs a build of job from the queue to result ("" leaves it running), a minute later
// on the clock; it returns the build's number.
func (e *env) play(job string, t jenkinstest.Trigger, result string) int {
	q := e.srv.Enqueue(job, t)
	n := e.srv.QueuedBuild(q) // AutoStart
	if n == 0 {
		n = e.srv.Start(q)
	}
	e.clock.Add(time.Minute)
	if result != "" {
		e.srv.Finish(job, n, result)
	}
	return n
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestBuildersFlattenFoldersAndMultibranch(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	e.srv.Disable("release", true)
	bs, err := e.provider(nil).Builders(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, b.Name+map[bool]string{true: "", false: " (offline)"}[b.Online])
		if b.Conn != "jk" || b.ID != b.Name {
			t.Errorf("builder %+v", b)
		}
	}
	want := "app/deploy, app/web/feature%2Fx, app/web/main, release (offline)"
	if strings.Join(got, ", ") != want {
		t.Errorf("builders %q, want %q", strings.Join(got, ", "), want)
	}
}

func TestJobsGlobsFilter(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(func(c *jenkins.Config) { c.Jobs = []string{"app/web/*"} })
	bs, err := p.Builders(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Name != e.web[0] && bs[0].Name != e.web[1] {
		t.Errorf("builders %+v, want the two branch jobs", bs)
	}
	if _, err := p.LastBuilds(ctx(t), "release", 1); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("last builds of an unfollowed job: %v, want not found", err)
	}
}

func TestBuildsRunningLastAndOne(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	start := e.clock.Now()
	n1 := e.play(e.web[1], jenkinstest.Trigger{Cause: jenkinstest.SCMCause, SHA: "abc123", Branch: "origin/feature/x"}, "SUCCESS")
	n2 := e.play(e.web[1], jenkinstest.Trigger{Cause: jenkinstest.UserCause("alice"), SHA: "def456", Branch: "origin/feature/x"}, "")
	e.srv.Stages(e.web[1], n2, jenkinstest.Stage{Name: "Build", Status: "SUCCESS"}, jenkinstest.Stage{Name: "Test", Status: "IN_PROGRESS"})
	e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "UNSTABLE")

	running, err := p.RunningBuilds(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 {
		t.Fatalf("running %+v", running)
	}
	r := running[0]
	if r.ID != e.web[1]+"#2@q2" || r.Number != n2 || r.Builder != e.web[1] || r.Branch != "feature/x" || r.Revision != "def456" ||
		r.Owner != "alice" || r.Reason != "Started by user alice" || r.CurrentStep != "Test" || r.Complete || r.RequestID == "" ||
		!r.StartedAt.Equal(start.Add(time.Minute)) || !strings.HasPrefix(r.URL, e.srv.URL()+"job/app/job/web/job/feature%252Fx/2/") {
		t.Errorf("running build %+v", r)
	}
	last, err := p.LastBuilds(ctx(t), "release", 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 1 || last[0].Result != ci.ResultWarnings || last[0].Owner != "timer" || last[0].StateText != "unstable" ||
		last[0].Duration(time.Time{}) != time.Minute {
		t.Errorf("last builds of release %+v", last)
	}
	b, err := p.Build(ctx(t), jenkins.BuildID(e.web[1], n1))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Complete || b.Result != ci.ResultSuccess || b.Owner != "SCM change" || b.Branch != "feature/x" || b.Revision != "abc123" {
		t.Errorf("build %+v", b)
	}
	if _, err := p.Build(ctx(t), jenkins.BuildID("release", 99)); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("missing build: %v", err)
	}
	// The id the build carries reads it again; the same number from another life of the job
	// (another queue item) is not this build.
	if again, err := p.Build(ctx(t), b.ID); err != nil || again.ID != b.ID || !strings.Contains(b.ID, "@q") {
		t.Errorf("build by its own id %q: %+v, %v", b.ID, again, err)
	}
	if _, err := p.Build(ctx(t), jenkins.BuildID(e.web[1], n1)+"@q999"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("build of another life of the job: %v", err)
	}
	if _, err := p.Build(ctx(t), "nonsense"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
}

func TestResultsAndFailedStage(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	for _, r := range []string{"SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"} {
		e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, r)
	}
	n := e.play(e.web[0], jenkinstest.Trigger{Cause: jenkinstest.SCMCause}, "")
	e.srv.Stages(e.web[0], n, jenkinstest.Stage{Name: "Build", Status: "SUCCESS"}, jenkinstest.Stage{Name: "Lint", Status: "FAILED"},
		jenkinstest.Stage{Name: "Deploy", Status: "NOT_EXECUTED"})
	e.srv.Finish(e.web[0], n, "FAILURE")
	last, err := p.LastBuilds(ctx(t), "release", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range last {
		got = append(got, string(b.Result))
	}
	if want := "skipped cancelled failure warnings success"; strings.Join(got, " ") != want {
		t.Errorf("results newest first %q, want %q", strings.Join(got, " "), want)
	}
	if last[2].FailedStep != "" {
		t.Errorf("a freestyle build has no stages: %q", last[2].FailedStep)
	}
	mb, err := p.LastBuilds(ctx(t), e.web[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(mb) != 1 || mb[0].FailedStep != "Lint" || mb[0].Branch != "main" {
		t.Errorf("failed pipeline build %+v", mb)
	}
	for in, want := range map[string]ci.Result{"SUCCESS": ci.ResultSuccess, "UNSTABLE": ci.ResultWarnings, "FAILURE": ci.ResultFailure,
		"ABORTED": ci.ResultCancelled, "NOT_BUILT": ci.ResultSkipped, "SOMETHING_NEW": ci.ResultException, "": ci.ResultException} {
		if got := jenkins.Result(in); got != want {
			t.Errorf("Result(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuildsChangedSince(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "SUCCESS") // 10:00–10:01
	since := e.clock.Now().Add(time.Second)                                          // 10:01:01
	e.clock.Add(time.Minute)
	n := e.play(e.web[0], jenkinstest.Trigger{Cause: jenkinstest.SCMCause}, "FAILURE") // 10:02–10:03
	e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "")          // 10:03–
	got, err := p.BuildsChangedSince(ctx(t), since)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	want := []string{jenkins.BuildID(e.web[0], n) + "@q2", "release#2@q3"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("changed %q, want %q (oldest first)", ids, want)
	}
	// A build that started before since and finished after it has changed.
	e.clock.Add(time.Minute)
	e.srv.Finish("release", 2, "SUCCESS")
	got, err = p.BuildsChangedSince(ctx(t), e.clock.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "release#2@q3" || !got[0].Complete {
		t.Errorf("changed %+v, want release#2 finished", got)
	}
	if p.FollowOptions().Poll != jenkins.DefaultPollInterval {
		t.Errorf("poll %v", p.FollowOptions().Poll)
	}
}

func TestCredentialsRefused(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(func(c *jenkins.Config) { c.Auth.Password = "SECRETwrong" })
	_, err := p.Builders(ctx(t))
	var ue *ci.UserError
	if !errors.As(err, &ue) || !errors.Is(err, jenkins.ErrAuth) {
		t.Fatalf("error %v, want a user error wrapping ErrAuth", err)
	}
	want := "Jenkins refused the credentials of jk (401 Invalid password/token for user: herald): check auth in herald's config"
	if ue.Msg != want {
		t.Errorf("message %q, want %q", ue.Msg, want)
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(ue.Msg, "SECRET") {
		t.Errorf("the error quotes the password: %v", err)
	}
	anon := e.provider(func(c *jenkins.Config) { c.Auth = jenkins.Auth{Kind: "none"} })
	_, err = anon.Builders(ctx(t))
	if !errors.As(err, &ue) || !strings.Contains(ue.Msg, "403 Authentication required") ||
		!strings.Contains(ue.Msg, "user anonymous lacks the permission hudson.model.Hudson.Read") {
		t.Errorf("anonymous: %v", err)
	}
}

func TestJenkinsUnavailable(t *testing.T) {
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(busy.Close)
	p, err := jenkins.New(jenkins.Config{Name: "jk", URL: busy.URL, Auth: jenkins.Auth{Kind: "none"}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.BuildsChangedSince(ctx(t), time.Now())
	var ue *ci.UserError
	if wait, ok := ci.RetryAfter(err); !ok || wait != 7*time.Second || !errors.As(err, &ue) || ue.Msg != "Jenkins at jk did not answer" {
		t.Errorf("error %v (wait %v)", err, wait)
	}
	busy.Close()
	_, err = p.Workers(ctx(t))
	if !errors.As(err, &ue) || ue.Msg != "Jenkins at jk did not answer" {
		t.Errorf("Jenkins gone: %v", err)
	}
}

// The catch-up reads 50 builds of a job at the first poll and after a silence of the
// provider's own polls, not whenever the jobs were quiet for a while (since stays at the
// last build event however many polls find nothing).
func TestLongReadOnlyAfterASilence(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	since := e.clock.Now().Add(-time.Second)
	for range 15 {
		e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "SUCCESS")
	}
	e.clock.Add(20 * time.Minute) // quiet jobs: since stays where it was
	count := func(what string, want int) {
		t.Helper()
		got, err := p.BuildsChangedSince(ctx(t), since)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Errorf("%s: %d builds; want %d", what, len(got), want)
		}
	}
	count("first poll", 15)
	e.clock.Add(15 * time.Second)
	count("next poll", 10)
	e.clock.Add(11 * time.Minute)
	count("poll after a silence", 15)
}

// A build that runs long while ten newer builds of its job start falls out of the poll's
// window: its finish is still found, by reading it alone.
func TestLongBuildOutOfThePollsWindow(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	since := e.clock.Now().Add(-time.Second)
	long := e.play("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "")
	e.srv.Stages("app/deploy", long, jenkinstest.Stage{Name: "Soak", Status: "IN_PROGRESS"})
	if _, err := p.BuildsChangedSince(ctx(t), since); err != nil {
		t.Fatal(err)
	}
	for range 11 {
		e.play("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "SUCCESS")
	}
	if _, err := p.BuildsChangedSince(ctx(t), since); err != nil {
		t.Fatal(err)
	}
	// While it runs, a poll reads it alone, without its stage.
	before := len(e.srv.Requests())
	if _, err := p.BuildsChangedSince(ctx(t), since); err != nil {
		t.Fatal(err)
	}
	if reqs := e.srv.Requests()[before:]; len(reqs) != 2 || reqs[1] != fmt.Sprintf("GET job/app/job/deploy/%d/api/json", long) {
		t.Errorf("a poll while the long build runs asked %q; want the jobs and that build", reqs)
	}
	e.clock.Add(time.Minute)
	e.srv.Stages("app/deploy", long, jenkinstest.Stage{Name: "Soak", Status: "FAILED"})
	e.srv.Finish("app/deploy", long, "FAILURE")
	got, err := p.BuildsChangedSince(ctx(t), e.clock.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Number != long || !got[0].Complete || got[0].Result != ci.ResultFailure || got[0].FailedStep != "Soak" {
		t.Errorf("changed %+v; want the long build's failure in Soak", got)
	}
	before = len(e.srv.Requests())
	if _, err := p.BuildsChangedSince(ctx(t), e.clock.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if reqs := e.srv.Requests()[before:]; len(reqs) != 1 {
		t.Errorf("a poll after the long build ended asked %q; want the jobs only", reqs)
	}
}

// A replayed build lists its ReplayCause before the user who replayed it: that user owns it.
func TestOwnerIsTheUserWhereverListed(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	replay := jenkinstest.Cause{Class: "org.jenkinsci.plugins.workflow.cps.replay.ReplayCause", ShortDescription: "Replayed #1"}
	n := e.play("app/deploy", jenkinstest.Trigger{Cause: replay, More: []jenkinstest.Cause{jenkinstest.UserCause("alice")}}, "SUCCESS")
	b, err := p.Build(ctx(t), jenkins.BuildID("app/deploy", n))
	if err != nil {
		t.Fatal(err)
	}
	if b.Owner != "alice" || b.Reason != "Replayed #1" {
		t.Errorf("owner %q, reason %q; want alice, Replayed #1", b.Owner, b.Reason)
	}
}

// One wfapi 404 is a build discarded meanwhile, not a Jenkins without the Stage View
// plugin: the other builds' stages are still read. Three in a row switch stages off for an
// hour, after which herald asks again.
func TestOneStages404DoesNotSwitchStagesOff(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	since := e.clock.Now().Add(-time.Second)
	fail := func() int {
		n := e.play("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "")
		e.srv.Stages("app/deploy", n, jenkinstest.Stage{Name: "Migrate", Status: "FAILED"})
		e.srv.Finish("app/deploy", n, "FAILURE")
		return n
	}
	first := fail()
	e.srv.HideStages("app/deploy", fail())
	stageOf := func(n int) string {
		t.Helper()
		got, err := p.BuildsChangedSince(ctx(t), since)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range got {
			if b.Number == n {
				return b.FailedStep
			}
		}
		t.Fatalf("build #%d not listed: %+v", n, got)
		return ""
	}
	if s := stageOf(first); s != "Migrate" {
		t.Errorf("failed stage of #%d after another build's 404: %q", first, s)
	}
	for range 2 {
		e.srv.HideStages("app/deploy", fail())
	}
	stageOf(first) // three 404s in a row: the plugin is taken for missing
	last := fail()
	if s := stageOf(last); s != "" {
		t.Errorf("stage %q read though wfapi answered 404 three times in a row", s)
	}
	e.clock.Add(time.Hour + time.Minute)
	if s := stageOf(last); s != "Migrate" {
		t.Errorf("an hour later the stage is %q; want it read again", s)
	}
}

// A Git-based shared library's checkout records a BuildData of its own before the build's:
// the revision (and branch) are the build's, not the library's.
func TestRevisionIsNotTheLibrarys(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	lib := jenkinstest.Trigger{Cause: jenkinstest.TimerCause, LibrarySHA: "11b0000", LibraryBranch: "origin/master"}
	mb := lib
	mb.SHA, mb.Branch = "def456", "feature/x"
	n1 := e.play(e.web[1], mb, "SUCCESS")
	free := lib
	free.SHA, free.Branch = "abc123", "origin/release-2"
	n2 := e.play("release", free, "SUCCESS")
	for _, c := range []struct {
		id, rev, branch string
	}{{jenkins.BuildID(e.web[1], n1), "def456", "feature/x"}, {jenkins.BuildID("release", n2), "abc123", "release-2"}} {
		b, err := p.Build(ctx(t), c.id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Revision != c.rev || b.Branch != c.branch {
			t.Errorf("%s: revision %q on %q; want %q on %q", c.id, b.Revision, b.Branch, c.rev, c.branch)
		}
	}
}

// A proxy's sign-in page answers 200 with HTML: the error says the answer is not Jenkins'.
func TestSignInPageIsNotJenkins(t *testing.T) {
	var jenkinsHeader atomic.Bool
	sso := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if jenkinsHeader.Load() {
			w.Header().Set("X-Jenkins", "2.479.1")
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><title>Sign in</title></html>"))
	}))
	t.Cleanup(sso.Close)
	p, err := jenkins.New(jenkins.Config{Name: "jk", URL: sso.URL, Auth: jenkins.Auth{Kind: "none"}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Builders(ctx(t)); err == nil || !strings.Contains(err.Error(), "not Jenkins' (no X-Jenkins header") {
		t.Errorf("sign-in page: %v", err)
	}
	jenkinsHeader.Store(true)
	if _, err := p.Builders(ctx(t)); err == nil || !strings.Contains(err.Error(), "not the JSON expected") {
		t.Errorf("Jenkins' own page: %v", err)
	}
}
