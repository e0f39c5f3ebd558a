package buildbot

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
)

// A master with 100 builders: most built lately, a few long ago (their last builds lie far
// behind hundreds of newer ones), a few never. The overview finds every last build in a
// fixed handful of requests, where asking builder by builder cost 2N+3.
func TestOverviewCostsAFixedNumberOfRequests(t *testing.T) {
	m, ov, n := overviewOf100(t, false)
	if n > 6 {
		t.Errorf("overview of 100 builders made %d requests, want at most 6:\n%s", n, strings.Join(m.paths(), "\n"))
	}
	checkOverview(t, m, ov)
	p, now := ov.p, ov.At
	testOverviewCache(t, m, p, now, n)
}

// A master that does not filter builds by builder id still gets every last build right, asked
// builder by builder for the few the newest builds did not cover.
func TestOverviewWithoutBuilderFilter(t *testing.T) {
	m, ov, n := overviewOf100(t, true)
	checkOverview(t, m, ov)
	if n > 6+10 {
		t.Errorf("%d requests, want at most 16 (one per builder not covered)", n)
	}
}

type overviewResult struct {
	ci.Overview
	p *Provider
}

func (m *restMaster) paths() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, u := range m.requests {
		out = append(out, u.String())
	}
	return out
}

func overviewOf100(t *testing.T, oldFilter bool) (*restMaster, overviewResult, int) {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := &restMaster{builders: 100, oldFilter: oldFilter}
	id := 0
	build := func(builder int, at time.Time, complete bool) {
		id++
		s, f := float64(at.Unix()), float64(at.Add(time.Minute).Unix())
		res := id % 3 // success, warnings, failure
		b := apiBuild{ID: id, Number: id, BuilderID: builder, Complete: complete, StartedAt: &s, Results: &res, StateString: fmt.Sprint("build ", id)}
		if complete {
			b.CompleteAt = &f
		} else {
			b.Results = nil
		}
		m.builds = append(m.builds, b)
	}
	for b := 91; b <= 95; b++ { // built once, long ago
		build(b, now.Add(-30*24*time.Hour), true)
	}
	for i := 0; i < 600; i++ { // then builders 1..90 built a lot
		build(1+i%90, now.Add(-time.Duration(600-i)*time.Minute), true)
	}
	build(7, now.Add(-time.Minute), false) // running
	// 96..100 never built.

	w, _ := testWatcher(t, m, now, now)
	ov, err := w.p.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// builders, workers, running builds, one step list, the newest builds, those of the
	// builders not covered by them.
	return m, overviewResult{ov, w.p}, len(m.paths())
}

func checkOverview(t *testing.T, m *restMaster, ov overviewResult) {
	t.Helper()
	if len(ov.Builders) != 100 || len(ov.Running) != 1 || ov.Running[0].Builder != "b7" {
		t.Errorf("overview: %d builders, running %+v", len(ov.Builders), ov.Running)
	}
	if len(ov.Last) != 95 {
		t.Errorf("last builds of %d builders, want 95", len(ov.Last))
	}
	for b := 1; b <= 100; b++ {
		want := 0 // the newest complete build of builder b
		for _, x := range m.builds {
			if x.BuilderID == b && x.Complete && x.ID > want {
				want = x.ID
			}
		}
		got, ok := ov.Last[fmt.Sprintf("b%d", b)]
		switch {
		case want == 0 && ok:
			t.Errorf("b%d never built, overview says %+v", b, got)
		case want != 0 && (!ok || got.ID != fmt.Sprint(want) || !got.Complete):
			t.Errorf("b%d: last build %+v (found %v), want build %d", b, got, ok, want)
		}
	}
}

func testOverviewCache(t *testing.T, m *restMaster, p *Provider, now time.Time, n int) {
	t.Helper()
	// Within the TTL every caller shares it, however many ask at once.
	later := now.Add(DefaultOverviewTTL - time.Second)
	p.now = func() time.Time { return later }
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ov, err := p.Overview(context.Background()); err != nil || !ov.At.Equal(now) {
				t.Errorf("cached overview: At %v, %v", ov.At, err)
			}
		}()
	}
	wg.Wait()
	m.mu.Lock()
	if len(m.requests) != n {
		t.Errorf("%d more requests within the TTL, want none", len(m.requests)-n)
	}
	m.mu.Unlock()

	// After it, the next caller asks again; callers arriving together share one fetch.
	p.now = func() time.Time { return now.Add(DefaultOverviewTTL) }
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Overview(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	m.mu.Lock()
	if got := len(m.requests) - n; got != n {
		t.Errorf("%d requests for the refresh, want one fetch of %d", got, n)
	}
	m.mu.Unlock()
}

// A master that does not answer costs the first caller its CI timeout; every caller waiting
// for that fetch, and every caller for OverviewFailureTTL after it, gets the same error at
// once instead of waiting its own timeout: a dead master must not hold every chat's /status
// (and the intake's workers) for the whole timeout each. After the TTL the master is asked
// again. An error the master answers is not remembered: it came at once.
func TestOverviewRemembersAFailure(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	drop := func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	}
	refuse := func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusInternalServerError) }
	for _, tt := range []struct {
		name     string
		answer   http.HandlerFunc
		want     error // what the error wraps, when it is remembered
		remember bool
	}{
		{name: "hangs", answer: hang, want: context.DeadlineExceeded, remember: true},
		{name: "drops the connection", answer: drop, remember: true},
		{name: "answers 500", answer: refuse},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int64
			arrived := make(chan struct{}, 100)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				arrived <- struct{}{}
				tt.answer(w, r)
			}))
			t.Cleanup(srv.Close)
			p, err := New(Config{Name: "main", URL: srv.URL}, zerolog.New(zerolog.NewTestWriter(t)))
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
			p.now = func() time.Time { return now }
			const ciTimeout = 100 * time.Millisecond

			// The first caller's fetch fails; seven more callers wait for it meanwhile, each
			// with far more time than it.
			first := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), ciTimeout)
				defer cancel()
				_, err := p.Overview(ctx)
				first <- err
			}()
			<-arrived
			const waiters = 7
			type answer struct {
				err      error
				timedOut bool // the waiter's own time ran out
			}
			answers := make(chan answer, waiters)
			for range waiters {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					defer cancel()
					_, err := p.Overview(ctx)
					answers <- answer{err, ctx.Err() != nil}
				}()
			}
			firstErr := <-first
			if firstErr == nil || (tt.want != nil && !errors.Is(firstErr, tt.want)) {
				t.Fatalf("first overview: %v, want an error wrapping %v", firstErr, tt.want)
			}
			for range waiters {
				a := <-answers
				switch {
				case a.err == nil:
					t.Errorf("a waiter got an overview from a master that did not answer")
				case tt.remember && (a.err != firstErr || a.timedOut):
					t.Errorf("a waiter got %v (its own time ran out: %v), want the first caller's error %v at once", a.err, a.timedOut, firstErr)
				}
			}
			if got := requests.Load(); tt.remember && got != 1 {
				t.Errorf("%d requests for 8 callers of one failing fetch, want 1", got)
			}
			if !tt.remember {
				return
			}

			// Later, within the TTL: the same error, no request.
			now = now.Add(OverviewFailureTTL - time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := p.Overview(ctx); err != firstErr || requests.Load() != 1 {
				t.Errorf("within the TTL: %v after %d requests, want %v from memory", err, requests.Load(), firstErr)
			}
			// After it, the master is asked again.
			now = now.Add(time.Millisecond)
			ctx, cancel = context.WithTimeout(context.Background(), ciTimeout)
			defer cancel()
			if _, err := p.Overview(ctx); err == nil || requests.Load() != 2 {
				t.Errorf("after the TTL: %v after %d requests, want a new request", err, requests.Load())
			}
		})
	}
}
