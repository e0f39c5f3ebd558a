package github_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

type memSink struct {
	mu  sync.Mutex
	evs []ci.Event
}

func (s *memSink) Deliver(_ context.Context, ev ci.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
	return nil
}

func (s *memSink) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.evs {
		out = append(out, ev.Key())
	}
	return out
}

// TestFollowedByPolling: herald without webhooks learns every start and finish from the
// Follower's catch-ups, a run that changed while nobody asked included, each once; the
// provider polls every poll_interval; a catch-up where nothing changed costs only 304s.
func TestFollowedByPolling(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	p := e.provider(func(c *github.Config) { c.PollInterval = 15 * time.Second })
	if got := p.FollowOptions().Poll; got != 15*time.Second {
		t.Errorf("poll %v, want the poll_interval", got)
	}
	sink := &memSink{}
	f := ci.NewFollower(p, sink, e.clock.Now(), ci.FollowOptions{Clock: fixedClock{e.clock}})
	e.clock.Add(time.Minute)
	failed := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	running := e.run("acme/widgets", e.ci, "", "build", "Compile")
	if err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"gh/build/" + github.BuildID(failed, 1) + "/started",
		"gh/build/" + github.BuildID(failed, 1) + "/finished",
		"gh/build/" + github.BuildID(running, 1) + "/started",
	}
	if got := sink.keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %q\nwant %q", got, want)
	}
	if fin := sink.evs[1].Build; fin.FailedStep != "build / Run tests" || fin.Result != ci.ResultFailure {
		t.Errorf("finished event's build %+v", fin)
	}

	st := e.srv.Stats()
	if err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	now := e.srv.Stats()
	if len(sink.keys()) != 3 {
		t.Errorf("an unchanged catch-up delivered %q", sink.keys()[3:])
	}
	if asked, not := now.Total-st.Total, now.NotModified-st.NotModified; asked == 0 || asked != not {
		t.Errorf("unchanged catch-up: %d requests, %d of them 304", asked, not)
	}

	e.srv.CompleteRun(running, "success", "", "")
	e.clock.Add(time.Second)
	if err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sink.keys(); len(got) != 4 || got[3] != "gh/build/"+github.BuildID(running, 1)+"/finished" {
		t.Errorf("after the run ended: %q", got)
	}
}

// fixedClock is a ci.Clock on the test's clock whose waits never end (CatchUp is called
// by hand).
type fixedClock struct{ c *testClock }

func (f fixedClock) Now() time.Time                     { return f.c.Now() }
func (fixedClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

// A repository whose runners the token may not read (GitHub answers 403: they need admin
// rights) is skipped; the others' runners are listed. The fake has no such token, so a proxy
// in front of it answers the documented 403 for one repository.
func TestWorkersSkipsForbiddenRepository(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	e.srv.AddRepo("acme/docs", "main")
	e.srv.AddRunner("acme/widgets", "rack-1", true, false)
	e.srv.AddRunner("acme/docs", "secret-rack", true, false)
	target, err := url.Parse(e.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	denied := 0
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/repos/acme/docs/actions/runners") {
			mu.Lock()
			denied++
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"message":"Must have admin rights to Repository.","documentation_url":"https://docs.github.com/rest/actions/self-hosted-runners#list-self-hosted-runners-for-a-repository","status":"403"}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	p := e.provider(func(c *github.Config) { c.URL = front.URL }, "acme/widgets", "acme/docs")
	ws, err := p.Workers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Name != "widgets/rack-1" || !ws[0].Connected {
		t.Errorf("workers %+v, want widgets/rack-1 alone", ws)
	}
	// The denial holds for an hour: not asked again until then.
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return denied
	}
	e.clock.Add(59 * time.Minute)
	if ws, err := p.Workers(context.Background()); err != nil || len(ws) != 1 || count() != 1 {
		t.Errorf("workers within the hour: %+v, %v; the denied repository asked %d times, want 1", ws, err, count())
	}
	e.clock.Add(2 * time.Minute)
	if _, err := p.Workers(context.Background()); err != nil || count() != 2 {
		t.Errorf("workers after the hour: %v; the denied repository asked %d times, want 2", err, count())
	}
}

// A run that outlives the lookback (queued for long, jobs one after another) and a re-run of
// a run created before it are not in the list a poll reads: the attempts herald saw start,
// and the one its re-run button started, are read by id until they finish.
func TestLongRunsAreReadByID(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	ctx := context.Background()
	p := e.provider(nil)
	long := e.run("acme/widgets", e.ci, "", "build", "Compile")
	old := e.run("acme/widgets", e.ci, "failure", "build", "Run tests")
	since := e.clock.Now().Add(-time.Hour)
	bs, err := p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 {
		t.Fatalf("first poll %v", ids(bs))
	}
	e.clock.Add(github.Lookback + time.Hour)
	res, err := p.Rebuild(ctx, github.BuildID(old, 1), "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	e.srv.StartRun(old, "build", "Run tests")
	e.srv.StartRun(long, "deploy", "Upload")
	e.clock.Add(time.Minute)
	e.srv.CompleteRun(long, "success", "", "")
	e.srv.CompleteRun(old, "success", "", "")
	e.clock.Add(time.Minute)

	since = e.clock.Now().Add(-5 * time.Minute)
	bs, err = p.BuildsChangedSince(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ci.Build{}
	for _, b := range bs {
		got[b.ID] = b
	}
	if b := got[github.BuildID(long, 1)]; !b.Complete || b.Result != ci.ResultSuccess {
		t.Errorf("the long run: %+v (changed: %v)", b, ids(bs))
	}
	if b := got[res.RequestIDs[0]]; !b.Complete || b.Result != ci.ResultSuccess || b.Attempt != 2 {
		t.Errorf("the re-run of the old run: %+v (changed: %v)", b, ids(bs))
	}
	// Finished, they are read no more.
	before := e.srv.Stats().ByRoute["GET /repos/{owner}/{repo}/actions/runs/{run}/attempts/{attempt}"]
	if _, err := p.BuildsChangedSince(ctx, since); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.Stats().ByRoute["GET /repos/{owner}/{repo}/actions/runs/{run}/attempts/{attempt}"] - before; n != 0 {
		t.Errorf("%d attempts read after they finished", n)
	}
}

// GitHub does not promise the order of its list of runs: a run older than the lookback on a
// page does not stop the reading, only a page of nothing but older runs does.
func TestChangesReadOnPastAnOldRun(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	run := func(id int, created time.Time) map[string]any {
		return map[string]any{"id": id, "name": "CI", "run_number": id, "run_attempt": 1, "workflow_id": 7,
			"status": "completed", "conclusion": "success", "head_branch": "main",
			"created_at": created.Format(time.RFC3339), "run_started_at": created.Format(time.RFC3339),
			"updated_at": created.Add(time.Minute).Format(time.RFC3339)}
	}
	page := func(n int) []map[string]any {
		var out []map[string]any
		switch n {
		case 1:
			for i := range 100 {
				created := now.Add(-time.Duration(i) * time.Second)
				if i == 50 {
					created = now.Add(-30 * time.Hour) // out of order
				}
				out = append(out, run(1000-i, created))
			}
		case 2:
			out = append(out, run(800, now.Add(-2*time.Minute)))
			for i := range 99 {
				out = append(out, run(700-i, now.Add(-20*time.Hour)))
			}
		case 3:
			for i := range 100 {
				out = append(out, run(500-i, now.Add(-21*time.Hour)))
			}
		}
		return out
	}
	var mu sync.Mutex
	asked := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/repos/acme/widgets/actions/runs" {
			http.NotFound(w, r)
			return
		}
		p := r.URL.Query().Get("page")
		if p == "" {
			p = "1"
		}
		mu.Lock()
		asked[p] = true
		mu.Unlock()
		n := map[string]int{"1": 1, "2": 2, "3": 3}[p]
		if n < 4 {
			w.Header().Set("Link", fmt.Sprintf(`<http://%s/repos/acme/widgets/actions/runs?page=%d>; rel="next"`, r.Host, n+1))
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"total_count": 400, "workflow_runs": page(n)})
	}))
	defer srv.Close()
	p, err := github.New(github.Config{Name: "gh", URL: srv.URL, Repos: []string{"acme/widgets"},
		Auth: github.Auth{Kind: "bearer", Token: fakeToken}, Clock: func() time.Time { return now }}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := p.BuildsChangedSince(context.Background(), now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range bs {
		found = found || b.ID == "800/1"
	}
	if !found {
		t.Errorf("run 800 on page 2 was not read (%d builds)", len(bs))
	}
	mu.Lock()
	defer mu.Unlock()
	if !asked["3"] || asked["4"] {
		t.Errorf("pages asked %v, want 1 to 3: page 3 is all older than the lookback", asked)
	}
}
