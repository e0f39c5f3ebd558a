package github_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

func TestForce(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	p := e.provider(nil)

	ss, err := p.ForceSchedulers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []ci.ForceScheduler{{Conn: "gh", Name: "CI", Label: "CI", Builders: []string{"CI"}, Fields: []ci.ForceField{
		{Name: "@ref", Label: "branch", Type: ci.FieldChoice, Default: "main", Required: true, Choices: []string{"main", "develop"}},
		{Name: "environment", Label: "Where to deploy", Type: ci.FieldChoice, Default: "staging", Choices: []string{"staging", "production"}},
		{Name: "debug", Label: "debug", Type: ci.FieldBool, Default: "false"},
		{Name: "note", Label: "A note for the run", Type: ci.FieldText, Required: true},
	}}}
	if !reflect.DeepEqual(ss, want) {
		t.Fatalf("force schedulers (Lint has no workflow_dispatch)\n got %+v\nwant %+v", ss, want)
	}

	res, err := p.Force(ctx, ci.ForceRequest{Scheduler: "CI", Builder: "CI", Owner: "alice",
		Params: map[string]string{"@ref": "develop", "environment": "production", "debug": "true", "note": "from the chat"}})
	if err != nil {
		t.Fatal(err)
	}
	ds := e.srv.Dispatches()
	if len(ds) != 1 {
		t.Fatalf("dispatches %+v", ds)
	}
	d := ds[0]
	wantInputs := map[string]any{"environment": "production", "debug": "true", "note": "from the chat"}
	if d.Repo != "acme/widgets" || d.WorkflowID != e.ci || d.Ref != "develop" || !reflect.DeepEqual(d.Inputs, wantInputs) {
		t.Errorf("dispatch %+v, want develop with %v", d, wantInputs)
	}
	if res.Ref != "run "+itoa(d.RunID) || !reflect.DeepEqual(res.RequestIDs, []string{github.BuildID(d.RunID, 1)}) {
		t.Errorf("force result %+v for run %d", res, d.RunID)
	}
	// The dispatched run carries the request id the result named.
	b, err := p.Build(ctx, res.RequestIDs[0])
	if err != nil || b.RequestID != res.RequestIDs[0] || b.Branch != "develop" {
		t.Errorf("dispatched build %+v, %v", b, err)
	}

	for _, tt := range []struct {
		name string
		req  ci.ForceRequest
		msg  string
	}{
		{"a workflow without workflow_dispatch", ci.ForceRequest{Builder: "Lint"},
			"workflow Lint on gh cannot be started by hand (its file declares no workflow_dispatch)"},
		{"a required input missing", ci.ForceRequest{Builder: "CI"}, "input note is required"},
		{"a branch GitHub does not know", ci.ForceRequest{Builder: "CI", Params: map[string]string{"@ref": "nope", "note": "x"}},
			"GitHub refused to start CI: No ref found for: nope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Force(ctx, tt.req)
			if got := userMsg(t, err); got != tt.msg {
				t.Errorf("message %q, want %q", got, tt.msg)
			}
		})
	}
	if n := len(e.srv.Dispatches()); n != 1 {
		t.Errorf("%d dispatches after the refusals, want still 1", n)
	}
}

func TestStop(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	running := e.run("acme/widgets", e.ci, "", "build", "Run tests")
	done := e.run("acme/widgets", e.ci, "success", "build", "Run tests")
	p := e.provider(nil)
	if err := p.Stop(ctx, github.BuildID(running, 1), "no longer needed"); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Cancels(); !reflect.DeepEqual(got, []int64{running}) {
		t.Errorf("cancels %v, want [%d]", got, running)
	}
	if err := p.Stop(ctx, github.BuildID(done, 1), ""); userMsg(t, err) != "run 2 has already finished" {
		t.Errorf("stop of a finished run: %v", err)
	}
	if err := p.Stop(ctx, "777/1", ""); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("stop of an unknown run: %v", err)
	}
}

func TestRebuild(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	failed := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	ok := e.run("acme/widgets", e.ci, "success", "build", "Run tests")
	running := e.run("acme/widgets", e.ci, "", "build", "Run tests")
	p := e.provider(nil)

	res, err := p.Rebuild(ctx, github.BuildID(failed, 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.RequestIDs, []string{github.BuildID(failed, 2)}) {
		t.Errorf("rebuild result %+v", res)
	}
	if got := e.srv.Reruns(); !reflect.DeepEqual(got, []int64{failed}) {
		t.Errorf("reruns %v", got)
	}
	if b, err := p.Build(ctx, github.BuildID(failed, 2)); err != nil || b.RequestID != res.RequestIDs[0] || b.Complete {
		t.Errorf("the re-run attempt %+v, %v", b, err)
	}
	for _, tt := range []struct {
		name, id, msg string
	}{
		{"a success", github.BuildID(ok, 1), "run 2 did not fail (attempt 1: success): there are no failed jobs to re-run"},
		{"a running run", github.BuildID(running, 1), "run 3 is still running (attempt 1)"},
		{"the failed run, re-run already", github.BuildID(failed, 1), "run 1 is still running (attempt 2)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Rebuild(ctx, tt.id, "alice")
			if got := userMsg(t, err); got != tt.msg {
				t.Errorf("message %q, want %q", got, tt.msg)
			}
		})
	}
	if n := len(e.srv.Reruns()); n != 1 {
		t.Errorf("%d reruns after the refusals, want 1", n)
	}
}

// A secondary rate limit (403 or 429 with Retry-After, or none) becomes a ci.RetryAfterError,
// so the Follower waits as long as GitHub asked; a spent hourly limit waits for its reset.
func TestRateLimits(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		after  time.Duration
		wait   time.Duration
	}{
		{"403 with Retry-After", 403, 90 * time.Second, 90 * time.Second},
		{"429 with Retry-After", 429, 5 * time.Second, 5 * time.Second},
		{"403 without Retry-After", 403, 0, github.DefaultSecondaryWait},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, githubtest.Options{})
			// go-github reads x-ratelimit-reset by the real clock: the fake's hourly reset
			// must lie in the real future, as GitHub's does.
			e.clock.Set(time.Now().UTC())
			e.srv.Limit(1, tt.status, tt.after)
			p := e.provider(nil)
			_, err := p.Builders(context.Background())
			if wait, ok := ci.RetryAfter(err); !ok || wait != tt.wait {
				t.Errorf("error %v waits %v (%v), want %v", err, wait, ok, tt.wait)
			}
			if msg := userMsg(t, err); !strings.HasPrefix(msg, "GitHub asked herald to slow down (a secondary rate limit on gh)") {
				t.Errorf("message %q", msg)
			}
			// The client refuses locally for a while after the limit, never past
			// DefaultSecondaryWait (not until the hourly reset).
			_, err = p.Builders(context.Background())
			if wait, ok := ci.RetryAfter(err); ok && wait > github.DefaultSecondaryWait {
				t.Errorf("the next request waits %v, want at most %v", wait, github.DefaultSecondaryWait)
			}
		})
	}
	// GitHub documents any 429, and a 403 with Retry-After, as a secondary limit, whatever
	// the body's documentation_url says.
	for _, tt := range []struct {
		name   string
		status int
		after  string
		wait   time.Duration
	}{
		{"429 with another body", 429, "", github.DefaultSecondaryWait},
		{"429 with another body and Retry-After", 429, "7", 7 * time.Second},
		{"403 with another body and Retry-After", 403, "30", 30 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Header().Set("X-RateLimit-Remaining", "4000")
				w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(50*time.Minute).Unix(), 10))
				if tt.after != "" {
					w.Header().Set("Retry-After", tt.after)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"message":"Too many requests","documentation_url":"https://docs.github.com/rest"}`))
			}))
			defer srv.Close()
			p, err := github.New(github.Config{Name: "gh", URL: srv.URL, Repos: []string{"acme/widgets"},
				Auth: github.Auth{Kind: "bearer", Token: fakeToken}}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Builders(context.Background())
			if wait, ok := ci.RetryAfter(err); !ok || wait != tt.wait {
				t.Errorf("error %v waits %v (%v), want %v", err, wait, ok, tt.wait)
			}
		})
	}
	t.Run("primary limit spent", func(t *testing.T) {
		e := newEnv(t, githubtest.Options{RateLimit: 2}) // Builders reads the workflows and the repository
		p := e.provider(nil)
		if _, err := p.Builders(context.Background()); err != nil {
			t.Fatal(err)
		}
		_, err := p.RunningBuilds(context.Background())
		wait, ok := ci.RetryAfter(err)
		if !ok || wait <= 50*time.Minute || wait > time.Hour {
			t.Errorf("error %v waits %v, want until the hour's reset", err, wait)
		}
		if msg := userMsg(t, err); !strings.HasPrefix(msg, "GitHub's API rate limit for gh is used up; it resets at ") {
			t.Errorf("message %q", msg)
		}
	})
}

func TestBadCredentials(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	const wrong = "ghp_SECRETwrongtoken"
	p := e.provider(func(c *github.Config) { c.Auth.Token = wrong })
	_, err := p.Builders(context.Background())
	if !errors.Is(err, github.ErrAuth) {
		t.Errorf("error %v, want ErrAuth", err)
	}
	if msg := userMsg(t, err); msg != "GitHub refused the token of gh (401 Bad credentials): check auth in herald's config" {
		t.Errorf("message %q", msg)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %q holds the token", err)
	}
}

func TestEnterprisePrefix(t *testing.T) {
	e := newEnv(t, githubtest.Options{Prefix: "/api/v3"})
	if !strings.HasSuffix(e.srv.URL(), "/api/v3") {
		t.Fatalf("fake at %s", e.srv.URL())
	}
	id := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	p := e.provider(nil)
	last, err := p.LastBuilds(context.Background(), "CI", 1)
	if err != nil || len(last) != 1 || last[0].ID != github.BuildID(id, 1) || last[0].FailedStep != "build / Run tests" {
		t.Errorf("last build through /api/v3: %+v, %v", last, err)
	}
}

func TestGitHubApp(t *testing.T) {
	app := &githubtest.App{AppID: 4242, InstallationID: 77, PublicKey: &testKey.PublicKey}
	e := newEnv(t, githubtest.Options{App: app, Prefix: "/api/v3"})
	// ghinstallation signs its JWT with the system clock, which the fake checks.
	e.clock.Set(time.Now().UTC())
	keyFile := writeFile(t, "app.pem", keyPEM())
	auth := github.Auth{Kind: "github_app", AppID: 4242, InstallationID: 77, PrivateKeyFile: keyFile}
	p := e.provider(func(c *github.Config) { c.Auth = auth })
	bs, err := p.Builders(context.Background())
	if err != nil || len(bs) != 2 {
		t.Fatalf("builders with an installation token: %+v, %v", bs, err)
	}
	if n := e.srv.Stats().ByRoute["POST /app/installations/{installation}/access_tokens"]; n != 1 {
		t.Errorf("%d installation tokens made, want 1 (%v)", n, e.srv.Stats().ByRoute)
	}
	if _, err := p.RunningBuilds(context.Background()); err != nil {
		t.Errorf("a second call with the same token: %v", err)
	}

	auth.InstallationID = 78
	_, err = e.provider(func(c *github.Config) { c.Auth = auth }).Builders(context.Background())
	if msg := userMsg(t, err); msg != "GitHub refused the App credentials of gh (HTTP 404 for installation 78 of app 4242): check auth in herald's config" {
		t.Errorf("message %q", msg)
	}
	if !errors.Is(err, github.ErrAuth) {
		t.Errorf("error %v, want ErrAuth", err)
	}
}

func TestOverview(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	lint := e.run("acme/widgets", e.lint, "success", "lint", "Lint")
	failed := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	running := e.run("acme/widgets", e.ci, "", "build", "Compile")
	p := e.provider(func(c *github.Config) { c.OverviewTTL = time.Minute })

	ov, err := p.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Builders) != 2 || len(ov.Running) != 1 || ov.Running[0].ID != github.BuildID(running, 1) || ov.Running[0].CurrentStep != "build / Compile" {
		t.Errorf("overview builders %+v running %+v", ov.Builders, ov.Running)
	}
	if ov.Last["CI"].ID != github.BuildID(failed, 1) || ov.Last["Lint"].ID != github.BuildID(lint, 1) || !ov.At.Equal(e.clock.Now()) {
		t.Errorf("overview last %+v at %v", ov.Last, ov.At)
	}

	before := e.srv.Stats().Total
	if _, err := p.Overview(ctx); err != nil || e.srv.Stats().Total != before {
		t.Errorf("a second overview within the TTL asked GitHub %d times (%v)", e.srv.Stats().Total-before, err)
	}
	e.clock.Add(2 * time.Minute)
	st := e.srv.Stats()
	if _, err := p.Overview(ctx); err != nil {
		t.Fatal(err)
	}
	if now := e.srv.Stats(); now.Total == st.Total || now.Total-st.Total != now.NotModified-st.NotModified {
		t.Errorf("an overview after the TTL, nothing changed: %d requests, %d of them 304", now.Total-st.Total, now.NotModified-st.NotModified)
	}
}

func TestGitHubDown(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	p := e.provider(nil)
	e.srv.Close()
	_, err := p.Builders(context.Background())
	if msg := userMsg(t, err); msg != "GitHub at gh did not answer" {
		t.Errorf("message %q", msg)
	}
	if _, err := p.Overview(context.Background()); userMsg(t, err) != "GitHub at gh did not answer" {
		t.Errorf("overview: %v", err)
	}
}

// bodyCounter is a transport that counts the response bodies not closed yet.
type bodyCounter struct {
	mu   sync.Mutex
	open int
}

func (c *bodyCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.open++
	c.mu.Unlock()
	resp.Body = &countedBody{ReadCloser: resp.Body, c: c}
	return resp, nil
}

func (c *bodyCounter) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

type countedBody struct {
	io.ReadCloser
	c    *bodyCounter
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() {
		b.c.mu.Lock()
		b.c.open--
		b.c.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

// A refused installation token leaves no response body open (ghinstallation hands the
// response over with its body unread): one leaked connection per poll otherwise.
func TestAppTokenRefusalClosesItsBody(t *testing.T) {
	app := &githubtest.App{AppID: 4242, InstallationID: 77, PublicKey: &testKey.PublicKey}
	e := newEnv(t, githubtest.Options{App: app})
	e.clock.Set(time.Now().UTC())
	keyFile := writeFile(t, "app.pem", keyPEM())
	counter := &bodyCounter{}
	p := e.provider(func(c *github.Config) {
		c.Auth = github.Auth{Kind: "github_app", AppID: 4242, InstallationID: 78, PrivateKeyFile: keyFile}
		c.HTTPClient = &http.Client{Transport: counter, Timeout: 10 * time.Second}
	})
	for range 3 {
		if _, err := p.Builders(context.Background()); !errors.Is(err, github.ErrAuth) {
			t.Fatalf("error %v, want ErrAuth", err)
		}
	}
	if n := counter.Open(); n != 0 {
		t.Errorf("%d response bodies left open after three refused token requests", n)
	}
}

// GitHub runs the workflow file as the dispatched branch holds it: its inputs are the ones
// checked and sent, not the default branch's.
func TestForceReadsTheFileAtTheBranch(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	develop := strings.Replace(ciWorkflow, "      note:\n        description: A note for the run\n        required: true\n",
		"      region:\n        type: choice\n        options: [eu, us]\n        default: eu\n", 1)
	if develop == ciWorkflow {
		t.Fatal("the workflow changed")
	}
	e.srv.SetWorkflowFile("acme/widgets", e.ci, "develop", develop)
	p := e.provider(nil)
	if _, err := p.Force(ctx, ci.ForceRequest{Builder: "CI", Params: map[string]string{"@ref": "develop", "region": "us"}}); err != nil {
		t.Fatal(err)
	}
	ds := e.srv.Dispatches()
	if len(ds) != 1 || ds[0].Inputs["region"] != "us" || ds[0].Inputs["note"] != nil {
		t.Fatalf("dispatches %+v, want develop's inputs", ds)
	}
	// The default branch's input is not develop's.
	_, err := p.Force(ctx, ci.ForceRequest{Builder: "CI", Params: map[string]string{"@ref": "develop", "note": "x"}})
	if msg := userMsg(t, err); msg != "CI has no input note" {
		t.Errorf("message %q", msg)
	}
	// On the default branch the default branch's file holds.
	if _, err := p.Force(ctx, ci.ForceRequest{Builder: "CI", Params: map[string]string{"note": "x"}}); err != nil {
		t.Errorf("force on main: %v", err)
	}
}

// hookTransport calls before on every request whose path ends with suffix, then sends it.
type hookTransport struct {
	suffix string
	before func()
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, h.suffix) && h.before != nil {
		h.before()
		h.before = nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Someone else re-runs the run (and it fails again) between herald's read and its re-run:
// the attempt herald follows is the one its re-run made, read back from GitHub.
func TestRebuildFollowsTheAttemptItMade(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	failed := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	hook := &hookTransport{suffix: "/rerun-failed-jobs", before: func() {
		e.srv.RerunFailed(failed)
		e.srv.CompleteRun(failed, "failure", "build", "Run tests")
	}}
	p := e.provider(func(c *github.Config) { c.HTTPClient = &http.Client{Transport: hook, Timeout: 10 * time.Second} })
	res, err := p.Rebuild(context.Background(), github.BuildID(failed, 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.RequestIDs, []string{github.BuildID(failed, 3)}) {
		t.Errorf("rebuild result %+v, want attempt 3", res)
	}
}
