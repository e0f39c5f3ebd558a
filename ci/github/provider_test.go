package github_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

const fakeToken = "ghp_SECRETfaketoken0123456789"

// ciWorkflow is a workflow that runs on pushes and by hand, with an input of every kind
// the force form shows differently.
const ciWorkflow = `name: CI
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      environment:
        description: Where to deploy
        type: choice
        options: [staging, production]
        default: staging
      debug:
        type: boolean
      note:
        description: A note for the run
        required: true
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: make test
`

const lintWorkflow = "name: Lint\non: [push, pull_request]\njobs: {}\n"

// testClock is the clock the fake GitHub and the provider share, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a fake GitHub with acme/widgets (main, develop) and its two workflows.
type env struct {
	t        *testing.T
	srv      *githubtest.Server
	clock    *testClock
	ci, lint int64
}

func newEnv(t *testing.T, opts githubtest.Options) *env {
	t.Helper()
	e := &env{t: t, clock: &testClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}}
	if opts.Token == "" && opts.App == nil {
		opts.Token = fakeToken
	}
	opts.Now = e.clock.Now
	srv, err := githubtest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	srv.AddRepo("acme/widgets", "main", "develop")
	e.ci = srv.AddWorkflow("acme/widgets", ".github/workflows/ci.yml", "CI", ciWorkflow)
	e.lint = srv.AddWorkflow("acme/widgets", ".github/workflows/lint.yml", "Lint", lintWorkflow)
	return e
}

// provider is a provider of the fake, following repos (acme/widgets when none).
func (e *env) provider(change func(*github.Config), repos ...string) *github.Provider {
	e.t.Helper()
	if len(repos) == 0 {
		repos = []string{"acme/widgets"}
	}
	cfg := github.Config{
		Name: "gh", URL: e.srv.URL(), Repos: repos, Auth: github.Auth{Kind: "bearer", Token: fakeToken},
		Clock: e.clock.Now,
	}
	if change != nil {
		change(&cfg)
	}
	p, err := github.New(cfg, zerolog.Nop())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run plays a run of the CI workflow to its end; conclusion "" leaves it running in
// job/step, "queued" leaves it queued.
func (e *env) run(repo string, workflow int64, conclusion, job, step string) int64 {
	id := e.srv.QueueRun(repo, workflow, githubtest.RunOptions{})
	e.clock.Add(10 * time.Second)
	if conclusion == "queued" {
		return id
	}
	e.srv.StartRun(id, job, step)
	e.clock.Add(time.Minute)
	if conclusion != "" {
		e.srv.CompleteRun(id, conclusion, job, step)
		e.clock.Add(10 * time.Second)
	}
	return id
}

func userMsg(t *testing.T, err error) string {
	t.Helper()
	var ue *ci.UserError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is no user error", err)
	}
	return ue.Msg
}

func ids(bs []ci.Build) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}

func TestBuildersAndBuilds(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	ok := e.run("acme/widgets", e.ci, "success", "build", "Run tests")
	failed := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	running := e.run("acme/widgets", e.ci, "", "test", "Unit tests")
	queued := e.run("acme/widgets", e.lint, "queued", "", "")
	p := e.provider(nil)

	bs, err := p.Builders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ci.Builder{
		{Conn: "gh", ID: itoa(e.ci), Name: "CI", Description: ".github/workflows/ci.yml", Online: true},
		{Conn: "gh", ID: itoa(e.lint), Name: "Lint", Description: ".github/workflows/lint.yml", Online: true},
	}
	if !reflect.DeepEqual(bs, want) {
		t.Errorf("builders\n got %+v\nwant %+v", bs, want)
	}

	last, err := p.LastBuilds(ctx, "CI", 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(last); !reflect.DeepEqual(got, []string{github.BuildID(failed, 1), github.BuildID(ok, 1)}) {
		t.Fatalf("last builds %v", got)
	}
	f := last[0]
	if f.Result != ci.ResultFailure || f.FailedStep != "build / Run tests" || f.RequestID != f.ID || f.Builder != "CI" || !f.Complete || f.Number != 2 {
		t.Errorf("failed build %+v", f)
	}
	if last[1].Result != ci.ResultSuccess || last[1].FailedStep != "" {
		t.Errorf("successful build %+v", last[1])
	}

	run, err := p.RunningBuilds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]ci.Build{}
	for _, b := range run {
		byID[b.ID] = b
	}
	if len(run) != 2 || byID[github.BuildID(running, 1)].CurrentStep != "test / Unit tests" || byID[github.BuildID(queued, 1)].Builder != "Lint" {
		t.Errorf("running builds %+v", run)
	}

	b, err := p.Build(ctx, github.BuildID(failed, 1))
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != github.BuildID(failed, 1) || b.FailedStep != "build / Run tests" || b.Result != ci.ResultFailure {
		t.Errorf("build %+v", b)
	}
	if b, err := p.Build(ctx, github.BuildID(running, 1)); err != nil || b.CurrentStep != "test / Unit tests" || b.Complete {
		t.Errorf("running build %+v, %v", b, err)
	}

	if _, err := p.LastBuilds(ctx, "Nope", 1); userMsg(t, err) != "no workflow Nope on gh" || !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("unknown builder: %v", err)
	}
	if _, err := p.Build(ctx, "424242/1"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("unknown run: %v", err)
	}
	if _, err := p.Build(ctx, "x"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("malformed id: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestSeveralRepositories(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	e.srv.AddRepo("acme/docs", "trunk")
	docsCI := e.srv.AddWorkflow("acme/docs", ".github/workflows/ci.yml", "CI", lintWorkflow)
	ctx := context.Background()
	e.run("acme/widgets", e.ci, "success", "build", "Run tests")
	docRun := e.run("acme/docs", docsCI, "failure", "site", "Build pages")
	p := e.provider(nil, "acme/widgets", "acme/docs")

	bs, err := p.Builders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	if !reflect.DeepEqual(names, []string{"docs/CI", "widgets/CI", "widgets/Lint"}) {
		t.Errorf("builders %q", names)
	}
	last, err := p.LastBuilds(ctx, "docs/CI", 1)
	if err != nil || len(last) != 1 || last[0].ID != github.BuildID(docRun, 1) || last[0].Builder != "docs/CI" {
		t.Fatalf("last of docs/CI: %+v, %v", last, err)
	}
	// A fresh provider knows no run yet: it finds the run in the repository that has it.
	b, err := e.provider(nil, "acme/widgets", "acme/docs").Build(ctx, github.BuildID(docRun, 1))
	if err != nil || b.Builder != "docs/CI" || b.FailedStep != "site / Build pages" {
		t.Errorf("build of the second repository: %+v, %v", b, err)
	}
	if _, err := p.LastBuilds(ctx, "CI", 1); userMsg(t, err) != "no workflow CI on gh" {
		t.Errorf("an unprefixed name with several repositories: %v", err)
	}
}

func TestWorkers(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	idle := e.srv.AddRunner("acme/widgets", "rack-1", true, false)
	busy := e.srv.AddRunner("acme/widgets", "rack-2", true, true)
	off := e.srv.AddRunner("acme/widgets", "laptop", false, false)
	ws, err := e.provider(nil).Workers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ci.Worker{
		{Conn: "gh", ID: itoa(idle), Name: "rack-1", Connected: true},
		{Conn: "gh", ID: itoa(busy), Name: "rack-2", Connected: true, Busy: true},
		{Conn: "gh", ID: itoa(off), Name: "laptop"},
	}
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("workers\n got %+v\nwant %+v", ws, want)
	}
}

// TestBuildsChangedSince: the runs that changed after since are found however far down the
// list they are (a re-run of an older run keeps its place), each once, oldest change first,
// and the list is read no further back than the lookback.
func TestBuildsChangedSince(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	for range 300 { // long before the lookback
		e.run("acme/widgets", e.lint, "success", "lint", "Lint")
	}
	e.clock.Add(8 * time.Hour)
	old := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	for range 120 {
		e.run("acme/widgets", e.lint, "success", "lint", "Lint")
	}
	since := e.clock.Now()
	e.clock.Add(time.Minute)

	// The old run's failed jobs re-run now: found by its new attempt's start, on page 2.
	e.srv.RerunFailed(old)
	e.clock.Add(time.Second)
	e.srv.StartRun(old, "build", "Run tests")
	e.clock.Add(time.Minute)
	e.srv.CompleteRun(old, "success", "", "")
	e.clock.Add(time.Minute)
	// A run that failed and was re-run since: both attempts.
	quick := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	e.srv.RerunFailed(quick)
	e.clock.Add(time.Second)
	e.srv.StartRun(quick, "build", "Run tests")
	e.clock.Add(time.Minute)
	// And one still running.
	running := e.run("acme/widgets", e.ci, "", "build", "Compile")

	p := e.provider(nil)
	before := e.srv.Stats()
	bs, err := p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{github.BuildID(old, 2), github.BuildID(quick, 1), github.BuildID(quick, 2), github.BuildID(running, 1)}
	if got := ids(bs); !reflect.DeepEqual(got, want) {
		t.Fatalf("changed builds %v, want %v", got, want)
	}
	if b := bs[0]; !b.Complete || b.Result != ci.ResultSuccess || b.Attempt != 2 || b.NumberText() != "#1 (attempt 2)" {
		t.Errorf("re-run of the old run %+v", b)
	}
	if b := bs[1]; b.Result != ci.ResultFailure || b.FailedStep != "build / Run tests" {
		t.Errorf("first attempt of the quick run %+v", b)
	}
	if b := bs[2]; b.Complete || b.StartedAt.Before(bs[1].FinishedAt) {
		t.Errorf("second attempt of the quick run %+v", b)
	}
	const route = "GET /repos/{owner}/{repo}/actions/runs"
	after := e.srv.Stats()
	if pages := after.ByRoute[route] - before.ByRoute[route]; pages != 3 {
		// Page 1: the newest 100; page 2 reaches the old run and the runs before the lookback;
		// page 3 holds only runs before the lookback, so page 4 is never asked.
		t.Errorf("%d pages of runs read, want 3", pages)
	}

	// Nothing changed: the same pages again, every request answered 304.
	again, err := p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(again), want) {
		t.Errorf("second catch-up %v", ids(again))
	}
	last := e.srv.Stats()
	if asked, not := last.Total-after.Total, last.NotModified-after.NotModified; asked == 0 || asked != not {
		t.Errorf("unchanged poll: %d requests, %d answered 304; want all of them 304", asked, not)
	}
}

// A run waiting for approval (completed, action_required) is neither started nor finished
// for a poll; once approved it runs on under the same id and attempt, and its real end is
// reported. A completed run is finished whatever else it says.
func TestRunAwaitingApproval(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	p := e.provider(nil)
	since := e.clock.Now()
	e.clock.Add(time.Second)
	id := e.srv.QueueRun("acme/widgets", e.ci, githubtest.RunOptions{AwaitApproval: true})
	e.clock.Add(time.Minute)
	bs, err := p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 0 {
		t.Fatalf("a run awaiting approval was reported: %+v", bs)
	}
	if b, err := p.Build(ctx, github.BuildID(id, 1)); err != nil || b.Complete || b.StateText != "action_required" {
		t.Errorf("the waiting run as a build: %+v, %v", b, err)
	}
	// It may wait for ever: it is not read by id on every poll once out of the list.
	e.clock.Add(github.Lookback + time.Hour)
	const attempts = "GET /repos/{owner}/{repo}/actions/runs/{run}/attempts/{attempt}"
	asked := e.srv.Stats().ByRoute[attempts]
	if _, err := p.BuildsChangedSince(ctx, e.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Stats().ByRoute[attempts] - asked; n != 0 {
		t.Errorf("the run awaiting approval was read %d times by id", n)
	}
	e.srv.ApproveRun(id)
	e.clock.Add(time.Second)
	e.srv.StartRun(id, "build", "Run tests")
	e.clock.Add(time.Minute)
	e.srv.CompleteRun(id, "success", "", "")
	e.clock.Add(time.Second)
	bs, err = p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].ID != github.BuildID(id, 1) || !bs[0].Complete || bs[0].Result != ci.ResultSuccess {
		t.Errorf("the approved run: %+v", bs)
	}
}

// The poll names builds as a delivery does: a fork's branch after its owner, a run without
// a name after its workflow, the repository as GitHub spells it whatever the config writes.
func TestPolledNamesMatchDeliveries(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	e.srv.AddRepo("acme/docs", "trunk")
	ctx := context.Background()
	since := e.clock.Now()
	e.clock.Add(time.Second)
	fork := e.srv.QueueRun("acme/widgets", e.ci, githubtest.RunOptions{HeadRepo: "mona/widgets", Branch: "main", Event: "pull_request"})
	e.clock.Add(time.Second)
	nameless := e.srv.QueueRun("acme/widgets", e.lint, githubtest.RunOptions{EmptyName: true})
	e.clock.Add(time.Second)
	p := e.provider(nil, "Acme/Widgets", "acme/docs")
	bs, err := p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]ci.Build{}
	for _, b := range bs {
		byID[b.ID] = b
	}
	if b := byID[github.BuildID(fork, 1)]; b.Branch != "mona:main" || b.Builder != "widgets/CI" {
		t.Errorf("fork run: branch %q builder %q, want mona:main and widgets/CI", b.Branch, b.Builder)
	}
	if b := byID[github.BuildID(nameless, 1)]; b.Builder != "widgets/Lint" {
		t.Errorf("run without a name: builder %q, want widgets/Lint (%+v)", b.Builder, bs)
	}
	builders, err := p.Builders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range builders {
		names = append(names, b.Name)
	}
	if !reflect.DeepEqual(names, []string{"widgets/CI", "widgets/Lint"}) {
		t.Errorf("builders %q, want GitHub's spelling of the repository", names)
	}
	// The delivery of the same run names the same builder.
	e.srv.CompleteRun(fork, "failure", "build", "Run tests")
	var body []byte
	for _, d := range e.srv.Deliveries() {
		if d.Event == "workflow_run" && d.Action == "completed" {
			body = d.Body
		}
	}
	parser := github.NewParser(github.ParserConfig{Conn: "gh", Repos: []string{"Acme/Widgets", "acme/docs"}, Secret: testSecret})
	d, err := parser.ParseWebhook(signedHeader("workflow_run", body), body)
	if err != nil || d.Events[0].Build.Builder != "widgets/CI" || d.Events[0].Build.Branch != "mona:main" {
		t.Errorf("delivered fork run: %+v, %v", d, err)
	}
}

// Every run not completed is running for /status: waiting for an environment's reviewers,
// pending in a concurrency group, requested, as well as queued and in progress.
func TestRunningBuildsEveryStatus(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	want := map[string]string{}
	for _, status := range []string{"waiting", "pending", "requested"} {
		id := e.run("acme/widgets", e.ci, "queued", "", "")
		e.srv.HoldRun(id, status)
		want[github.BuildID(id, 1)] = status
	}
	want[github.BuildID(e.run("acme/widgets", e.ci, "queued", "", ""), 1)] = "queued"
	want[github.BuildID(e.run("acme/widgets", e.ci, "", "build", "Compile"), 1)] = "in_progress"
	e.run("acme/widgets", e.ci, "success", "build", "Compile")
	bs, err := e.provider(nil).RunningBuilds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range bs {
		got[b.ID] = b.StateText
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("running builds %v, want %v", got, want)
	}
}
