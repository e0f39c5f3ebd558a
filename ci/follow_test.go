package ci

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProvider is the core contract with function fields; nil ones answer nothing.
type fakeProvider struct {
	workers func(ctx context.Context) ([]Worker, error)
}

func (p *fakeProvider) Name() string                                   { return "main" }
func (p *fakeProvider) Kind() string                                   { return "fake" }
func (p *fakeProvider) Builders(context.Context) ([]Builder, error)    { return nil, nil }
func (p *fakeProvider) RunningBuilds(context.Context) ([]Build, error) { return nil, nil }
func (p *fakeProvider) LastBuilds(context.Context, string, int) ([]Build, error) {
	return nil, nil
}
func (p *fakeProvider) Build(context.Context, string) (Build, error) { return Build{}, ErrNotFound }
func (p *fakeProvider) Workers(ctx context.Context) ([]Worker, error) {
	if p.workers == nil {
		return nil, ErrUnsupported
	}
	return p.workers(ctx)
}

// fakeLister is a provider that lists changed builds: one followed by polling.
type fakeLister struct {
	fakeProvider
	changed func(ctx context.Context, since time.Time) ([]Build, error)
}

func (p *fakeLister) BuildsChangedSince(ctx context.Context, since time.Time) ([]Build, error) {
	return p.changed(ctx, since)
}

// fakeStreamer streams and lists changed builds, as Buildbot does.
type fakeStreamer struct {
	fakeLister
	stream func(ctx context.Context, sink EventSink, onConnect func(context.Context) error) error
}

func (p *fakeStreamer) Stream(ctx context.Context, sink EventSink, onConnect func(context.Context) error) error {
	return p.stream(ctx, sink, onConnect)
}

// fakeClock never sleeps: After moves its time on by d and fires at once, unless after is
// set, which then decides.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
	after func(d time.Duration) <-chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	after := c.after
	c.mu.Unlock()
	if after != nil {
		return after(d)
	}
	c.advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// holdReconcile keeps waits of an hour (the tests' Reconcile) from ever ending, so the
// reconciler stays out of a test about something else; other waits end at once.
func (c *fakeClock) holdReconcile() {
	never := make(chan time.Time)
	c.after = func(d time.Duration) <-chan time.Time {
		if d == time.Hour {
			return never
		}
		c.advance(d)
		ch := make(chan time.Time, 1)
		ch <- c.Now()
		return ch
	}
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// recorder is a sink that counts deliveries by key; stop, when set, is returned for a key.
type recorder struct {
	mu   sync.Mutex
	n    map[string]int
	evs  []Event
	fail func(ev Event) error
}

func (r *recorder) Deliver(_ context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(ev); err != nil {
			return err
		}
	}
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[ev.Key()]++
	r.evs = append(r.evs, ev)
	return nil
}

func (r *recorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[key]
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func build(id string, started, finished time.Duration) Build {
	b := Build{Conn: "main", ID: id, Builder: "app", StartedAt: t0.Add(started)}
	if finished > 0 {
		b.Complete, b.Result, b.FinishedAt = true, ResultSuccess, t0.Add(finished)
	}
	return b
}

// ci is a list of builds as a CI would answer BuildsChangedSince.
type fakeCI struct {
	mu     sync.Mutex
	builds []Build
	asked  []time.Time
}

func (c *fakeCI) add(b Build) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.builds = append(c.builds, b)
}

func (c *fakeCI) changed(_ context.Context, since time.Time) ([]Build, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, since)
	var out []Build
	for _, b := range c.builds {
		if b.StartedAt.After(since) || (b.Complete && b.FinishedAt.After(since)) {
			out = append(out, b)
		}
	}
	return out, nil
}

func (c *fakeCI) sinces() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.asked...)
}

func live(ctx context.Context, sink EventSink, kind Kind, b Build) error {
	ev := Event{Conn: "main", Kind: kind, At: b.StartedAt}
	if kind == KindStarted {
		sb := StartedView(b)
		ev.Build = &sb
	} else {
		ev.Build, ev.At = &b, b.FinishedAt
	}
	return sink.Deliver(ctx, ev)
}

func runFollower(t *testing.T, f *Follower, ctx context.Context) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return") // a guard against a hang, not a measure
		return nil
	}
}

// A stream that drops loses the builds that ran while it was down; the catch-up on the
// reconnect delivers them, and each event reaches the sink once although the catch-up and the
// stream both report some of them.
func TestFollowerCatchesUpAfterLostConnection(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &fakeCI{}
	b1, b2, b3 := build("1", time.Second, 2*time.Second), build("2", 3*time.Second, 4*time.Second), build("3", 5*time.Second, 6*time.Second)
	sessions := 0
	p := &fakeStreamer{fakeLister: fakeLister{changed: c.changed}}
	p.stream = func(ctx context.Context, sink EventSink, onConnect func(context.Context) error) error {
		sessions++
		if err := onConnect(ctx); err != nil {
			return err
		}
		switch sessions {
		case 1:
			c.add(b1)
			for _, k := range []Kind{KindStarted, KindFinished} {
				if err := live(ctx, sink, k, b1); err != nil {
					return err
				}
			}
			c.add(b2) // while the connection is down
			c.add(b3)
			return errors.New("connection lost")
		default:
			// The stream reports what the catch-up found already.
			if err := live(ctx, sink, KindFinished, b3); err != nil {
				return err
			}
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
	}
	clock := &fakeClock{now: t0}
	clock.holdReconcile()
	sink := &recorder{}
	f := NewFollower(p, sink, t0, FollowOptions{Clock: clock, Reconcile: time.Hour})
	if err := runFollower(t, f, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	for _, b := range []Build{b1, b2, b3} {
		for _, k := range []Kind{KindStarted, KindFinished} {
			key := fmt.Sprintf("main/build/%s/%s", b.ID, k)
			if n := sink.count(key); n != 1 {
				t.Errorf("%s delivered %d times; want once", key, n)
			}
		}
	}
	for _, ev := range sink.events() {
		if ev.Build.ID == "2" && !ev.CatchUp {
			t.Errorf("%s was not marked as caught up", ev.Key())
		}
		if ev.Kind == KindStarted && (ev.Build.Complete || ev.Build.Result != ResultNone) {
			t.Errorf("%s shows a finished build", ev.Key())
		}
	}
	if got := f.Cursor(); !got.Equal(b3.FinishedAt) {
		t.Errorf("cursor = %v; want the newest delivered build time %v", got, b3.FinishedAt)
	}
	asked := c.sinces()
	if len(asked) != 2 || !asked[1].Equal(b1.FinishedAt.Add(-DefaultCatchUpSlack)) {
		t.Errorf("catch-ups asked since %v; want the second from b1's finish less the slack", asked)
	}
}

// A provider that cannot stream is followed by polling alone, every Poll, from the cursor
// less the slack; what one poll delivered the next does not deliver again.
func TestFollowerPollsWithoutStream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &fakeCI{}
	polls := 0
	p := &fakeLister{}
	p.changed = func(ctx context.Context, since time.Time) ([]Build, error) {
		polls++
		switch polls {
		case 1:
			c.add(build("1", time.Second, 0)) // running
		case 2:
			c.builds[0] = build("1", time.Second, 2*time.Second)
			c.add(build("2", 3*time.Second, 4*time.Second))
		case 3:
			return nil, errors.New("CI down")
		case 5:
			cancel()
		}
		return c.changed(ctx, since)
	}
	clock := &fakeClock{now: t0}
	sink := &recorder{}
	f := NewFollower(p, sink, t0, FollowOptions{Clock: clock, Poll: 45 * time.Second, Jitter: func(d time.Duration) time.Duration { return d }})
	if err := runFollower(t, f, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	var got []string
	for _, ev := range sink.events() {
		got = append(got, ev.Build.ID+string(ev.Kind[0]))
	}
	if s := strings.Join(got, " "); s != "1s 1f 2s 2f" {
		t.Errorf("delivered %s; want 1s 1f 2s 2f, each once", s)
	}
	// A failed poll is retried after the backoff, not after a whole interval.
	want := []time.Duration{45 * time.Second, 45 * time.Second, DefaultMinBackoff, 45 * time.Second}
	if w := clock.recorded(); fmt.Sprint(w) != fmt.Sprint(want) {
		t.Errorf("waits = %v; want %v", w, want)
	}
	asked := c.sinces()
	if last := asked[len(asked)-1]; !last.Equal(t0.Add(4 * time.Second).Add(-DefaultCatchUpSlack)) {
		t.Errorf("last poll asked since %v; want the newest build time less the slack", last)
	}
}

// The cursor moves only with the times of build events delivered: never back, never with a
// worker event (herald's clock), never past herald's clock, and not for an event the sink
// refused.
func TestFollowerCursor(t *testing.T) {
	start := t0.Add(time.Hour)
	tests := []struct {
		name   string
		builds []Build
		fail   bool
		want   time.Time
	}{
		{"newer build", []Build{build("1", time.Hour+time.Minute, time.Hour+2*time.Minute)}, false, t0.Add(time.Hour + 2*time.Minute)},
		{"older build within the slack", []Build{build("1", time.Hour-3*time.Minute, time.Hour-2*time.Minute)}, false, start},
		{"build in the future", []Build{build("1", time.Hour+time.Minute, 1000*time.Hour)}, false, t0.Add(time.Hour + time.Minute)},
		{"refused by the sink", []Build{build("1", time.Hour+time.Minute, 0)}, true, start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeLister{changed: func(context.Context, time.Time) ([]Build, error) { return tt.builds, nil }}
			p.workers = func(context.Context) ([]Worker, error) {
				return []Worker{{Conn: "main", Name: "w1"}}, nil
			}
			sink := &recorder{}
			if tt.fail {
				sink.fail = func(Event) error { return errors.New("database down") }
			}
			// herald's clock is a little after start; the future build is far ahead of it.
			clock := &fakeClock{now: start.Add(10 * time.Minute)}
			f := NewFollower(p, sink, start, FollowOptions{Clock: clock})
			err := f.CatchUp(context.Background())
			if tt.fail != (err != nil) {
				t.Fatalf("CatchUp = %v", err)
			}
			if got := f.Cursor(); !got.Equal(tt.want) {
				t.Errorf("cursor = %v; want %v", got, tt.want)
			}
		})
	}
}

// A zero cursor (nothing stored yet) starts from now, so a first start replays no history.
func TestFollowerZeroCursorIsNow(t *testing.T) {
	clock := &fakeClock{now: t0}
	f := NewFollower(&fakeLister{}, &recorder{}, time.Time{}, FollowOptions{Clock: clock})
	if got := f.Cursor(); !got.Equal(t0) {
		t.Errorf("cursor = %v; want now %v", got, t0)
	}
}

// Reconnects back off: doubling from MinBackoff up to MaxBackoff while connecting fails, and
// from MinBackoff again after a session that stayed up for Healthy.
func TestFollowerBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &fakeClock{now: t0}
	calls := 0
	p := &fakeStreamer{fakeLister: fakeLister{changed: (&fakeCI{}).changed}}
	p.stream = func(ctx context.Context, sink EventSink, onConnect func(context.Context) error) error {
		calls++
		switch calls {
		case 6:
			// Connects and stays up long enough to count as healthy.
			if err := onConnect(ctx); err != nil {
				return err
			}
			clock.advance(time.Minute)
			return errors.New("dropped after a while")
		case 7:
			// Connects but drops at once: no reset.
			if err := onConnect(ctx); err != nil {
				return err
			}
			return errors.New("dropped at once")
		case 9:
			cancel()
			return ctx.Err()
		}
		return errors.New("refused")
	}
	var reported []time.Duration
	f := NewFollower(p, &recorder{}, t0, FollowOptions{
		Clock: clock, MinBackoff: time.Second, MaxBackoff: 8 * time.Second, Healthy: time.Minute, Reconcile: time.Hour,
		Jitter: func(d time.Duration) time.Duration { return d },
		Report: func(_ error, d time.Duration) { reported = append(reported, d) },
	})
	clock.holdReconcile() // only backoffs are seen
	if err := runFollower(t, f, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	s := time.Second
	want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 8 * s, s, 2 * s, 4 * s}
	if fmt.Sprint(reported) != fmt.Sprint(want) {
		t.Errorf("backoffs = %v; want %v", reported, want)
	}
}

// The default jitter keeps a wait between half of it and all of it.
func TestJitterBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Millisecond, 500 * time.Millisecond, 30 * time.Second} {
		for range 100 {
			if j := jitter(d); j < d/2 || j > d {
				t.Fatalf("jitter(%v) = %v; want within [%v, %v]", d, j, d/2, d)
			}
		}
	}
}

// Cancelling ctx ends Run promptly whether it is streaming, waiting to reconnect or polling.
func TestFollowerStopsOnCancel(t *testing.T) {
	tests := []struct {
		name     string
		provider func(started chan<- struct{}) Provider
	}{
		{"streaming", func(started chan<- struct{}) Provider {
			p := &fakeStreamer{fakeLister: fakeLister{changed: (&fakeCI{}).changed}}
			p.stream = func(ctx context.Context, _ EventSink, onConnect func(context.Context) error) error {
				if err := onConnect(ctx); err != nil {
					return err
				}
				close(started)
				<-ctx.Done()
				return ctx.Err()
			}
			return p
		}},
		{"waiting to reconnect", func(started chan<- struct{}) Provider {
			p := &fakeStreamer{fakeLister: fakeLister{changed: (&fakeCI{}).changed}}
			var once sync.Once
			p.stream = func(context.Context, EventSink, func(context.Context) error) error {
				once.Do(func() { close(started) })
				return errors.New("refused")
			}
			return p
		}},
		{"polling", func(started chan<- struct{}) Provider {
			var once sync.Once
			return &fakeLister{changed: func(context.Context, time.Time) ([]Build, error) {
				once.Do(func() { close(started) })
				return nil, nil
			}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := make(chan struct{})
			never := make(chan time.Time) // every wait lasts until ctx ends
			clock := &fakeClock{now: t0, after: func(time.Duration) <-chan time.Time { return never }}
			f := NewFollower(tt.provider(started), &recorder{}, t0, FollowOptions{Clock: clock})
			done := make(chan error, 1)
			go func() { done <- f.Run(ctx) }()
			<-started
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v; want context.Canceled", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}

// A provider with neither a stream nor a change list cannot be followed, and Run says so.
func TestFollowerNeedsACapability(t *testing.T) {
	f := NewFollower(&fakeProvider{}, &recorder{}, t0, FollowOptions{Clock: &fakeClock{now: t0}})
	if err := f.Run(context.Background()); !errors.Is(err, ErrNotFollowed) {
		t.Errorf("Run = %v; want ErrNotFollowed", err)
	}
}

// A sink's ErrStop ends Run with it, from the stream, the catch-up or a poll.
func TestFollowerStopsOnErrStop(t *testing.T) {
	stop := fmt.Errorf("enough: %w", ErrStop)
	c := &fakeCI{builds: []Build{build("1", time.Second, 2*time.Second)}}
	streamer := &fakeStreamer{fakeLister: fakeLister{changed: c.changed}}
	streamer.stream = func(ctx context.Context, _ EventSink, onConnect func(context.Context) error) error {
		return onConnect(ctx)
	}
	for name, p := range map[string]Provider{"stream": streamer, "poll": &fakeLister{changed: c.changed}} {
		t.Run(name, func(t *testing.T) {
			sink := &recorder{fail: func(Event) error { return stop }}
			f := NewFollower(p, sink, t0, FollowOptions{Clock: &fakeClock{now: t0}})
			if err := runFollower(t, f, context.Background()); !errors.Is(err, ErrStop) {
				t.Errorf("Run = %v; want ErrStop", err)
			}
		})
	}
}

// While a stream is up, the follower reconciles every Reconcile: a build the stream lost
// without dropping is delivered then, once.
func TestFollowerReconcilesWhileStreaming(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &fakeCI{}
	added := make(chan struct{})
	p := &fakeStreamer{fakeLister: fakeLister{changed: c.changed}}
	p.stream = func(ctx context.Context, _ EventSink, onConnect func(context.Context) error) error {
		if err := onConnect(ctx); err != nil {
			return err
		}
		c.add(build("1", time.Second, 2*time.Second)) // never streamed
		close(added)
		<-ctx.Done()
		return ctx.Err()
	}
	sink := &recorder{fail: func(ev Event) error {
		if ev.Kind == KindFinished {
			defer cancel()
		}
		return nil
	}}
	tick := make(chan time.Time, 1)
	clock := &fakeClock{now: t0, after: func(d time.Duration) <-chan time.Time {
		if d != 7*time.Minute {
			return make(chan time.Time) // no reconnect expected
		}
		return tick
	}}
	f := NewFollower(p, sink, t0, FollowOptions{Clock: clock, Reconcile: 7 * time.Minute})
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	<-added // after the connect's catch-up; now the interval passes
	tick <- t0
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reconciliation never delivered the lost build")
	}
	for _, k := range []string{"main/build/1/started", "main/build/1/finished"} {
		if n := sink.count(k); n != 1 {
			t.Errorf("%s delivered %d times; want once", k, n)
		}
	}
}

// Workers away when herald starts, or lost while the stream was down, are reported when they
// come back; a worker that connects without having been missed is no news.
func TestFollowerWorkers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type state map[string]bool
	lists := []state{{"w1": true, "w2": false, "w3": true}, {"w1": true, "w2": true, "w3": true}}
	session := 0
	p := &fakeStreamer{fakeLister: fakeLister{changed: (&fakeCI{}).changed}}
	p.workers = func(context.Context) ([]Worker, error) {
		var out []Worker
		for _, name := range []string{"w1", "w2", "w3"} {
			out = append(out, Worker{Conn: "main", Name: name, Connected: lists[session-1][name]})
		}
		return out, nil
	}
	worker := func(ctx context.Context, sink EventSink, name string, st WorkerState, at time.Duration) error {
		return sink.Deliver(ctx, Event{Conn: "main", Kind: KindWorker, Worker: &Worker{Conn: "main", Name: name}, WorkerState: st, At: t0.Add(at)})
	}
	p.stream = func(ctx context.Context, sink EventSink, onConnect func(context.Context) error) error {
		session++
		if err := onConnect(ctx); err != nil {
			return err
		}
		if session == 1 {
			if err := worker(ctx, sink, "w3", WorkerOnline, 1); err != nil { // reconnected, never missed
				return err
			}
			if err := worker(ctx, sink, "w1", WorkerMissing, 2); err != nil {
				return err
			}
			return errors.New("dropped") // w1 and w2 come back meanwhile
		}
		cancel()
		return ctx.Err()
	}
	sink := &recorder{}
	clock := &fakeClock{now: t0}
	clock.holdReconcile()
	f := NewFollower(p, sink, t0, FollowOptions{Clock: clock, Reconcile: time.Hour})
	if err := runFollower(t, f, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	var got []string
	for _, ev := range sink.events() {
		got = append(got, fmt.Sprintf("%s %s %v", ev.Worker.Name, ev.WorkerState, ev.CatchUp))
	}
	if s := strings.Join(got, ", "); s != "w1 missing false, w1 online true, w2 online true" {
		t.Errorf("worker events = %s", s)
	}
}

// Caught-up events come in the order they happened, a start before a finish at the same
// time and else in the provider's order, each once; a build that started before the catch-up's
// time gets no started event.
func TestCatchUpEventsOrder(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(1000+s), 0) }
	old := Build{ID: "0", StartedAt: at(-100), FinishedAt: at(3), Complete: true}
	a := Build{ID: "1", StartedAt: at(0), FinishedAt: at(5), Complete: true, Result: ResultSuccess}
	b := Build{ID: "2", StartedAt: at(1), FinishedAt: at(2), Complete: true, Result: ResultFailure}
	run := Build{ID: "3", StartedAt: at(4)}
	evs := catchUpEvents("main", at(-1), []Build{old, a, b, run, a})
	var got []string
	for _, e := range evs {
		got = append(got, e.Build.ID+string(e.Kind[0]))
		if !e.CatchUp {
			t.Errorf("event not marked CatchUp")
		}
		if e.Kind == KindStarted && (e.Build.Complete || e.Build.Result != ResultNone) {
			t.Errorf("started event shows a finished build: %+v", e.Build)
		}
	}
	if s := strings.Join(got, " "); s != "1s 2s 2f 0f 3s 1f" {
		t.Errorf("order = %s", s)
	}
}

// A sink's ErrStop met by a reconciliation ends the stream and Run with it.
func TestFollowerStopsOnErrStopWhileReconciling(t *testing.T) {
	stop := fmt.Errorf("enough: %w", ErrStop)
	c := &fakeCI{}
	p := &fakeStreamer{fakeLister: fakeLister{changed: c.changed}}
	p.stream = func(ctx context.Context, _ EventSink, onConnect func(context.Context) error) error {
		if err := onConnect(ctx); err != nil {
			return err
		}
		c.add(build("1", time.Second, 2*time.Second)) // found by a reconciliation only
		<-ctx.Done()
		return ctx.Err()
	}
	sink := &recorder{fail: func(Event) error { return stop }}
	f := NewFollower(p, sink, t0, FollowOptions{Clock: &fakeClock{now: t0}})
	if err := runFollower(t, f, context.Background()); !errors.Is(err, ErrStop) {
		t.Errorf("Run = %v; want ErrStop", err)
	}
}

// A CI that says how long to wait (a rate limit) is not asked again sooner, whatever the
// backoff; a shorter hint than the backoff changes nothing.
func TestFollowerWaitsWhatTheCIAsks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	p := &fakeLister{}
	p.changed = func(ctx context.Context, since time.Time) ([]Build, error) {
		polls++
		switch polls {
		case 1:
			return nil, &RetryAfterError{Wait: 10 * time.Minute, Err: errors.New("rate limited")}
		case 2:
			return nil, fmt.Errorf("wrapped: %w", &RetryAfterError{Wait: time.Millisecond, Err: errors.New("rate limited")})
		case 3:
			cancel()
		}
		return nil, nil
	}
	clock := &fakeClock{now: t0}
	f := NewFollower(p, &recorder{}, t0, FollowOptions{Clock: clock, Poll: 45 * time.Second, MinBackoff: time.Second,
		Jitter: func(d time.Duration) time.Duration { return d }})
	if err := runFollower(t, f, ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v; want context.Canceled", err)
	}
	want := []time.Duration{10 * time.Minute, 2 * time.Second}
	if w := clock.recorded(); fmt.Sprint(w) != fmt.Sprint(want) {
		t.Errorf("waits = %v; want %v", w, want)
	}
}

// A worker that first appears after herald started following, away (a cloud agent launching),
// is new, not missing: its coming online says nothing. One found away at the first listing
// is still told when it comes back.
func TestFollowerNewWorkerIsNotMissing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lists := []map[string]bool{{"old": false}, {"old": false, "pod-1": false}, {"old": true, "pod-1": true}}
	polls := 0
	p := &fakeLister{changed: func(context.Context, time.Time) ([]Build, error) { return nil, nil }}
	p.workers = func(context.Context) ([]Worker, error) {
		polls++
		if polls > len(lists) {
			cancel()
			return nil, context.Canceled
		}
		var out []Worker
		for _, name := range []string{"old", "pod-1"} {
			if c, ok := lists[polls-1][name]; ok {
				out = append(out, Worker{Conn: "main", Name: name, Connected: c})
			}
		}
		return out, nil
	}
	sink := &recorder{}
	f := NewFollower(p, sink, t0, FollowOptions{Clock: &fakeClock{now: t0}, Poll: time.Second, Jitter: func(d time.Duration) time.Duration { return d }})
	_ = runFollower(t, f, ctx)
	var got []string
	for _, ev := range sink.events() {
		got = append(got, ev.Worker.Name+" "+string(ev.WorkerState))
	}
	if s := strings.Join(got, ", "); s != "old online" {
		t.Errorf("worker events = %q; want only old's return", s)
	}
}
