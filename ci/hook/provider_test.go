package hook

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

// fakeHistory is the store's view of a check hook's results: the Seen of each check.
type fakeHistory struct {
	mu   sync.Mutex
	seen []Seen
}

func (f *fakeHistory) set(s ...Seen) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = s
}

func (f *fakeHistory) CheckSeen(ctx context.Context, conn string) ([]Seen, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Seen(nil), f.seen...), nil
}

func (f *fakeHistory) LastCompleted(ctx context.Context, conn string) ([]ci.Build, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ci.Build
	for _, s := range f.seen {
		out = append(out, ci.Build{Conn: conn, ID: s.Check + "-1", Builder: s.Check, FinishedAt: s.Last, Complete: true, Result: ci.ResultSuccess})
	}
	return out, nil
}

func (f *fakeHistory) RecentBuilds(ctx context.Context, conn, builder string, n int) ([]ci.Build, error) {
	return nil, nil
}

func (f *fakeHistory) BuildByID(ctx context.Context, conn, id string) (ci.Build, error) {
	return ci.Build{}, errors.New("not here")
}

type watcher struct {
	c               *Check
	sink            *fakeSink
	missing, judged map[string]time.Time
}

func newWatcher(c *Check) *watcher {
	return &watcher{c: c, sink: &fakeSink{}, missing: map[string]time.Time{}, judged: map[string]time.Time{}}
}

func (w *watcher) look(t *testing.T) []string {
	t.Helper()
	before := len(w.sink.events)
	if err := w.c.watch(context.Background(), w.sink, w.missing, w.judged); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range w.sink.events[before:] {
		out = append(out, ev.Worker.Name+" "+string(ev.WorkerState)+" "+ev.At.Format("15:04"))
	}
	return out
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckSilence(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	hist := &fakeHistory{}
	c := NewCheck(compile(t, Config{Name: "monitor", Kind: KindCheck, Check: "{{.s}}", Status: "{{.st}}", ExpectEvery: 10 * time.Minute}))
	c.Clock = func() time.Time { return now }
	c.Attach(hist)
	w := newWatcher(c)
	steps := []struct {
		at   time.Duration
		seen []Seen
		want []string
	}{
		{5 * time.Minute, []Seen{{Check: "db", Last: t0}}, nil},
		{11 * time.Minute, []Seen{{Check: "db", Last: t0}}, []string{"db missing 12:10"}},
		{12 * time.Minute, []Seen{{Check: "db", Last: t0}}, nil}, // told once
		{13 * time.Minute, []Seen{{Check: "db", Last: t0.Add(13 * time.Minute), Before: t0}}, []string{"db online 12:13"}},
		{14 * time.Minute, []Seen{{Check: "db", Last: t0.Add(13 * time.Minute), Before: t0}}, nil},
		{24 * time.Minute, []Seen{{Check: "db", Last: t0.Add(23 * time.Minute), Before: t0.Add(13 * time.Minute)}}, nil}, // on time
	}
	for _, s := range steps {
		now = t0.Add(s.at)
		hist.set(s.seen...)
		if got := w.look(t); !same(got, s.want) {
			t.Errorf("at +%v: %q, want %q", s.at, got, s.want)
		}
	}

	// Another replica (or a restart) taking over: what is missing is reported again (the
	// same key, so stored once), and a silence that ended while nobody watched is told.
	now = t0.Add(40 * time.Minute)
	hist.set(Seen{Check: "db", Last: t0.Add(38 * time.Minute), Before: t0.Add(23 * time.Minute)}, Seen{Check: "web", Last: t0})
	w2 := newWatcher(c)
	want := []string{"db missing 12:33", "db online 12:38", "web missing 12:10"}
	if got := w2.look(t); !same(got, want) {
		t.Errorf("after a takeover: %q, want %q", got, want)
	}
	if got := w2.look(t); len(got) != 0 {
		t.Errorf("looked again: %q, want nothing", got)
	}
	ws, err := c.Workers(context.Background())
	if err != nil || len(ws) != 2 || !ws[0].Connected || ws[1].Connected {
		t.Errorf("Workers = %+v, %v", ws, err)
	}
}

// Stream catches up once connected, then watches until ctx ends; without expect_every it
// only waits.
func TestCheckStream(t *testing.T) {
	hist := &fakeHistory{}
	hist.set(Seen{Check: "db", Last: time.Now().Add(-time.Hour)})
	c := NewCheck(compile(t, Config{Name: "monitor", Kind: KindCheck, Check: "{{.s}}", Status: "{{.st}}", ExpectEvery: time.Minute}))
	c.Attach(hist)
	c.Tick = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	sink := &fakeSink{}
	connected := false
	done := make(chan error, 1)
	go func() {
		done <- c.Stream(ctx, sink, func(context.Context) error { connected = true; return nil })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sink.mu.Lock()
		n := len(sink.events)
		sink.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no missing check reported")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Stream = %v, want context.Canceled", err)
	}
	if !connected {
		t.Error("onConnect was not called")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.events) != 1 || sink.events[0].WorkerState != ci.WorkerMissing {
		t.Errorf("events = %+v", sink.events)
	}
}

func TestCheckDetached(t *testing.T) {
	c := NewCheck(compile(t, Config{Name: "monitor", Kind: KindCheck, Check: "{{.s}}", Status: "{{.st}}"}))
	if _, err := c.Builders(context.Background()); !errors.Is(err, errDetached) {
		t.Errorf("Builders = %v, want errDetached", err)
	}
	if _, err := c.Workers(context.Background()); !errors.Is(err, ci.ErrUnsupported) {
		t.Errorf("Workers without expect_every = %v, want ErrUnsupported", err)
	}
}
