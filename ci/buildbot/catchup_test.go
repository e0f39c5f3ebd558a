package buildbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

// restMaster answers the part of Buildbot's REST API the catch-up reads, the way Buildbot's
// data API does: field filters with __gt, order by a field (a leading - for descending),
// limit and offset, and a builder, worker and step list. It records every request.
type restMaster struct {
	mu       sync.Mutex
	builders int // how many builders (ids 1..n, named b1..bn); 0 is one builder "app"
	// oldFilter makes builds ignore a builderid filter, as a master without it would.
	oldFilter bool
	// ignoreAfter makes builds ignore buildid__gt, so every page is the first one; after
	// maxPages such queries it answers 500, so a catch-up that never stops fails the test
	// instead of filling the memory.
	ignoreAfter bool
	builds      []apiBuild
	ignored     int // pages answered with ignoreAfter
	requests    []*url.URL
	body        func(path string) []byte // when set, answers every request with its bytes
	onBuild     func(id int)             // when set, called (locked) as one build is read
}

func (m *restMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, r.URL)
	path := strings.TrimPrefix(r.URL.Path, "/api/v2/")
	if m.body != nil {
		w.Write(m.body(path))
		return
	}
	switch {
	case path == "builders" && m.builders == 0:
		fmt.Fprint(w, `{"builders":[{"builderid":1,"name":"app"}],"meta":{}}`)
	case path == "builders":
		var bs []apiBuilder
		for i := 1; i <= m.builders; i++ {
			bs = append(bs, apiBuilder{ID: i, Name: fmt.Sprintf("b%d", i)})
		}
		json.NewEncoder(w).Encode(map[string]any{"builders": bs, "meta": map[string]any{}})
	case path == "workers":
		fmt.Fprint(w, `{"workers":[],"meta":{}}`)
	case strings.HasSuffix(path, "/steps"):
		fmt.Fprint(w, `{"steps":[],"meta":{}}`)
	case strings.HasSuffix(path, "/changes"): // forced builds: none, as the master answers
		fmt.Fprint(w, `{"changes":[],"meta":{}}`)
	case strings.HasPrefix(path, "builds/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(path, "builds/"))
		if m.onBuild != nil {
			m.onBuild(id)
		}
		q := url.Values{"buildid__gt": {strconv.Itoa(id - 1)}, "limit": {"1"}}
		json.NewEncoder(w).Encode(map[string]any{"builds": m.query(q), "meta": map[string]any{}})
	case path == "builds":
		q := r.URL.Query()
		if m.oldFilter {
			q.Del("builderid")
		}
		if m.ignoreAfter {
			if q.Has("buildid__gt") {
				m.ignored++
			}
			if m.ignored > maxPages {
				http.Error(w, "test master: too many pages", http.StatusInternalServerError)
				return
			}
			q.Del("buildid__gt")
		}
		json.NewEncoder(w).Encode(map[string]any{"builds": m.query(q), "meta": map[string]any{}})
	case strings.HasPrefix(path, "builders/") && strings.HasSuffix(path, "/builds"):
		q := r.URL.Query()
		q.Set("builderid", strings.TrimSuffix(strings.TrimPrefix(path, "builders/"), "/builds"))
		json.NewEncoder(w).Encode(map[string]any{"builds": m.query(q), "meta": map[string]any{}})
	default:
		http.NotFound(w, r)
	}
}

// maxPages is how many pages restMaster answers with ignoreAfter before it refuses.
const maxPages = 20

func (m *restMaster) query(q url.Values) []apiBuild {
	var out []apiBuild
	for _, b := range m.builds {
		ok := true
		for key, vals := range q {
			field, op, _ := strings.Cut(key, "__")
			var v float64
			switch field {
			case "buildid":
				v = float64(b.ID)
			case "started_at":
				v = deref(b.StartedAt)
			case "complete_at":
				v = deref(b.CompleteAt)
			case "complete":
				if (vals[0] == "true") != b.Complete {
					ok = false
				}
				continue
			case "builderid": // several values: any of them
				in := false
				for _, v := range vals {
					in = in || v == strconv.Itoa(b.BuilderID)
				}
				ok = ok && in
				continue
			default:
				continue
			}
			want, _ := strconv.ParseFloat(vals[0], 64)
			if op == "gt" && !(v > want) {
				ok = false
			}
		}
		if ok {
			out = append(out, b)
		}
	}
	if o := q.Get("order"); o != "" {
		desc := strings.HasPrefix(o, "-") // by buildid; number grows with it here
		sort.SliceStable(out, func(i, j int) bool { return (out[i].ID < out[j].ID) != desc })
	}
	if off, err := strconv.Atoi(q.Get("offset")); err == nil && off < len(out) {
		out = out[off:]
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n < len(out) {
		out = out[:n]
	}
	return out
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func (m *restMaster) add(id int, started, finished time.Time) {
	s, f := float64(started.Unix()), float64(finished.Unix())
	res := 0
	m.builds = append(m.builds, apiBuild{ID: id, Number: id, BuilderID: 1, BuildRequestID: id, Complete: true,
		StartedAt: &s, CompleteAt: &f, Results: &res, StateString: "build successful"})
}

func (m *restMaster) buildQueries() []url.Values {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []url.Values
	for _, u := range m.requests {
		if strings.HasSuffix(u.Path, "/builds") {
			out = append(out, u.Query())
		}
	}
	return out
}

// sink records what a follower delivers, dropping duplicates by key as herald's does.
type sink struct {
	seen map[string]int
	evs  []ci.Event
}

func (s *sink) Deliver(_ context.Context, ev ci.Event) error {
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	s.seen[ev.Key()]++
	if s.seen[ev.Key()] == 1 {
		s.evs = append(s.evs, ev)
	}
	return nil
}

// testClock is the Follower's clock in these tests: the provider's, which a test sets; a
// catch-up never waits on it.
type testClock struct{ p *Provider }

func (c testClock) Now() time.Time                     { return c.p.now() }
func (testClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

// followed is a provider against a test master and a follower of it.
type followed struct {
	f *ci.Follower
	p *Provider
}

func testWatcher(t *testing.T, m *restMaster, now time.Time, since time.Time) (*followed, *sink) {
	t.Helper()
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	p, err := New(Config{Name: "main", URL: srv.URL}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return now }
	s := &sink{}
	return &followed{f: ci.NewFollower(p, s, since, ci.FollowOptions{Clock: testClock{p}}), p: p}, s
}

// After a long downtime the catch-up reads the builds page by page, each page after the
// highest build id of the last, and delivers every one of them once.
func TestCatchUpPagesByBuildID(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := &restMaster{}
	const n = 2*catchUpPage + 50
	for i := 1; i <= n; i++ {
		at := now.Add(-time.Duration(n-i+1) * time.Minute)
		m.add(i, at, at.Add(30*time.Second))
	}
	w, s := testWatcher(t, m, now, now.Add(-48*time.Hour))
	if err := w.f.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.evs) != 2*n {
		t.Fatalf("delivered %d events, want %d (a start and a finish per build)", len(s.evs), 2*n)
	}
	for k, c := range s.seen {
		if c != 1 {
			t.Errorf("%s delivered %d times", k, c)
		}
	}
	qs := m.buildQueries()
	if len(qs) != 6 {
		t.Errorf("%d build queries, want 3 pages for started and 3 for finished: %v", len(qs), qs)
	}
	for _, q := range qs {
		if l, err := strconv.Atoi(q.Get("limit")); err != nil || l > catchUpPage {
			t.Errorf("query %v is not paged (limit %q)", q, q.Get("limit"))
		}
	}
	for i := 1; i < len(s.evs); i++ {
		if s.evs[i].At.Before(s.evs[i-1].At) {
			t.Fatalf("event %d (%v) is delivered before an older one (%v)", i, s.evs[i].At, s.evs[i-1].At)
		}
	}
}

// One build from a master whose clock is years ahead does not move the catch-up into the
// future: its times are herald's now, and the next catch-up still finds a build that finished
// later (by the master's correct clock again), and a little before the newest one seen.
func TestCatchUpClockStaysPlausible(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := &restMaster{}
	m.add(1, now.Add(-10*time.Minute), now.Add(-9*time.Minute))
	future := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	m.add(2, future, future.Add(time.Minute))
	w, s := testWatcher(t, m, now, now.Add(-time.Hour))
	if err := w.f.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, ev := range s.evs {
		if ev.At.After(now.Add(ci.MaxClockSkew)) {
			t.Errorf("%s at %v: a time in the future was delivered", ev.Key(), ev.At)
		}
	}
	if w.f.Cursor().After(now.Add(ci.MaxClockSkew)) {
		t.Fatalf("cursor = %v after the catch-up: in the future", w.f.Cursor())
	}

	// A minute later a build finishes; it was started (by the master's clock) before the
	// clamped build, yet within the slack of the cursor.
	m.mu.Lock()
	m.add(3, now.Add(-2*time.Minute), now.Add(time.Minute))
	m.mu.Unlock()
	w.p.now = func() time.Time { return now.Add(2 * time.Minute) }
	if err := w.f.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.seen["main/build/3/started"] != 1 || s.seen["main/build/3/finished"] != 1 {
		t.Errorf("build 3 not caught up: %v", s.seen)
	}
	// Every catch-up looks back by the slack from the newest time seen.
	qs := m.buildQueries()
	last := qs[len(qs)-1]
	got, _ := strconv.ParseInt(last.Get("complete_at__gt"), 10, 64)
	if want := w.f.Cursor().Add(-ci.DefaultCatchUpSlack); got > want.Unix() {
		t.Errorf("catch-up after %v, want at most cursor − slack = %v", time.Unix(got, 0).UTC(), want)
	}
}

// The first catch-up after a restart also looks back by the slack from the stored cursor.
func TestCatchUpFromCursorHasSlack(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	cursor := now.Add(-time.Hour)
	m := &restMaster{}
	// Finished just before the cursor's event by the master's clock, but never stored: it
	// was in flight when herald stopped.
	m.add(1, cursor.Add(-4*time.Minute), cursor.Add(-2*time.Minute))
	w, s := testWatcher(t, m, now, cursor)
	if err := w.f.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.seen["main/build/1/finished"] != 1 {
		t.Errorf("the build within the slack of the cursor was not caught up: %v", s.seen)
	}
}

// An answer longer than herald reads is an error, not a shorter list.
func TestCutAnswerIsAnError(t *testing.T) {
	m := &restMaster{body: func(string) []byte {
		return []byte(`{"builds":[` + strings.Repeat(`{"buildid":1},`, 100) + `{"buildid":1}],"meta":{}}`)
	}}
	srv := httptest.NewServer(m)
	defer srv.Close()
	p, err := New(Config{Name: "main", URL: srv.URL}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	p.c.maxBody = 512
	if _, err := p.c.get(context.Background(), "builds"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("get(long answer) = %v, want ErrTooLarge", err)
	}
	p.c.maxBody = 1 << 20
	if _, err := p.c.get(context.Background(), "builds"); err != nil {
		t.Fatalf("get(answer within the limit) = %v", err)
	}
}

// A build the catch-up finds just after it started, before Buildbot wrote its properties, is
// read again until they are there, as the stream does: a started event without its branch
// would miss every chat that follows only some branches. An older build without properties is
// taken as it is.
func TestChangedBuildsWaitForProperties(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := &restMaster{}
	fresh, old := float64(now.Unix()), float64(now.Add(-time.Minute).Unix())
	m.builds = []apiBuild{
		{ID: 1, Number: 1, BuilderID: 1, StartedAt: &old},
		{ID: 2, Number: 2, BuilderID: 1, StartedAt: &fresh},
	}
	reads := map[int]int{}
	m.onBuild = func(id int) {
		reads[id]++
		if id == 2 && reads[id] == 2 {
			m.builds[1].Properties = map[string][]json.RawMessage{"branch": {json.RawMessage(`"main"`), json.RawMessage(`"Force Build Form"`)}}
		}
	}
	w, _ := testWatcher(t, m, now, now)
	bs, err := w.p.BuildsChangedSince(context.Background(), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].ID != "1" || bs[1].ID != "2" {
		t.Fatalf("builds = %+v; want 1 and 2 in id order", bs)
	}
	if bs[1].Branch != "main" {
		t.Errorf("fresh build's branch = %q; want it read again until it is there", bs[1].Branch)
	}
	if reads[1] != 0 {
		t.Errorf("the older build was read again %d times; want none", reads[1])
	}
}

// A master (or a proxy before it) that ignores buildid__gt answers the first page again and
// again: the catch-up stops at the second with ErrNoProgress instead of reading for ever.
func TestCatchUpStopsWithoutProgress(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	m := &restMaster{ignoreAfter: true}
	for i := 1; i <= 2*catchUpPage+50; i++ {
		at := now.Add(-time.Duration(3*catchUpPage-i) * time.Minute)
		m.add(i, at, at.Add(30*time.Second))
	}
	w, _ := testWatcher(t, m, now, now.Add(-48*time.Hour))
	bs, err := w.p.BuildsChangedSince(context.Background(), now.Add(-48*time.Hour))
	if !errors.Is(err, ErrNoProgress) || bs != nil {
		t.Fatalf("BuildsChangedSince = %d builds, %v; want none and ErrNoProgress", len(bs), err)
	}
	if !strings.Contains(err.Error(), "main") || !strings.Contains(err.Error(), "buildid__gt") {
		t.Errorf("error %q does not name the connection and the filter ignored", err)
	}
	if qs := m.buildQueries(); len(qs) != 2 {
		t.Errorf("%d build queries, want 2 (the first page and its repetition): %v", len(qs), qs)
	}
}
