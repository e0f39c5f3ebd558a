package buildbot_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// countingProxy stands in front of a real master and counts the requests that pass.
func countingProxy(t *testing.T, m *buildbottest.Master) (string, *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/", &n
}

// Against a real master, an overview costs the same few requests whatever was built, and
// says what asking builder by builder says.
func TestOverviewOnARealMaster(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	for _, b := range []string{buildbottest.BuilderPass, buildbottest.BuilderFail, buildbottest.BuilderPass, buildbottest.BuilderDocs} {
		m.WaitBuild(b, waitNumber(m, b, m.Force(b, map[string]any{"branch": "main"})))
	}
	u, count := countingProxy(t, m)
	p, err := buildbot.New(buildbot.Config{Name: "main", URL: u}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ov, err := p.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := count.Load(); n > 5 {
		t.Errorf("overview made %d requests, want at most 5 (builders, workers, running, last builds)", n)
	}
	before := count.Load()
	for _, b := range ov.Builders {
		lb, err := p.LastBuilds(ctx, b.Name, 1)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ov.Last[b.Name]
		switch {
		case len(lb) == 0 && ok:
			t.Errorf("%s: overview has %+v, the master no build", b.Name, got)
		case len(lb) == 1 && (!ok || got.ID != lb[0].ID || got.Result != lb[0].Result || got.Number != lb[0].Number):
			t.Errorf("%s: overview has %+v (%v), LastBuilds %+v", b.Name, got, ok, lb[0])
		}
	}
	perBuilder := count.Load() - before
	t.Logf("overview: %d requests; last builds asked builder by builder: %d", before, perBuilder)
	if ov.Last["fail"].Result != ci.ResultFailure || ov.Last["pass"].Number != 2 || len(ov.Builders) != 5 {
		t.Errorf("overview: fail %+v pass %+v, %d builders", ov.Last["fail"], ov.Last["pass"], len(ov.Builders))
	}
	// Asked again at once: from the cache, no request. The clock is stopped when the overview
	// was fetched: the builder by builder calls above may take longer than the TTL on a busy
	// machine, and that is not what this asks.
	buildbot.SetClock(p, func() time.Time { return ov.At })
	n := count.Load()
	if again, err := p.Overview(ctx); err != nil || !again.At.Equal(ov.At) || count.Load() != n {
		t.Errorf("second overview: %v, At %v vs %v, %d requests", err, again.At, ov.At, count.Load()-n)
	}
}

// waitNumber waits for the build of request brid and returns its number.
func waitNumber(m *buildbottest.Master, builder string, brid int) int {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		for _, b := range m.Builds() {
			if b.RequestID == brid {
				return b.Number
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0
}
