package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// runningRoles is a roles runner over its own lessee with two roles that count how many
// processes run them at once.
type runningRoles struct {
	r      *roleRunner
	lessee *store.Lessee
	cancel context.CancelFunc
	done   chan struct{}
}

type roleCounter struct {
	mu      sync.Mutex
	running map[string]int
	most    map[string]int
	order   []string // "start sender", "stop intake", ...
}

func (c *roleCounter) run(name string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c.mu.Lock()
		c.running[name]++
		c.most[name] = max(c.most[name], c.running[name])
		c.order = append(c.order, "start "+name)
		c.mu.Unlock()
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // a part finishing its in-flight work
		c.mu.Lock()
		c.running[name]--
		c.order = append(c.order, "stop "+name)
		c.mu.Unlock()
		return nil
	}
}

func startRoles(t *testing.T, st *store.Store, c *roleCounter, name string) *runningRoles {
	t.Helper()
	l, err := st.NewLessee(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	r := newRoleRunner(l, make(chan error, 1), zerolog.Nop())
	r.interval = 50 * time.Millisecond
	r.add("intake", 0, c.run("intake"), nil)
	r.add("sender", 1, c.run("sender"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningRoles{r: r, lessee: l, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(rr.done); r.Run(ctx) }()
	t.Cleanup(func() { rr.stop(); l.Close(context.Background()) })
	return rr
}

func (rr *runningRoles) stop() {
	rr.cancel()
	<-rr.done
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three processes on one database: each role runs in exactly one at a time; when its holder
// stops, another takes it; when the holder's connection dies, another takes it.
func TestRolesOneHolderAndTakeover(t *testing.T) {
	st := storetest.New(t)
	c := &roleCounter{running: map[string]int{}, most: map[string]int{}}
	procs := []*runningRoles{startRoles(t, st, c, "p1"), startRoles(t, st, c, "p2"), startRoles(t, st, c, "p3")}
	holder := func(role string) *runningRoles {
		for _, p := range procs {
			if slices.Contains(p.r.Held(), role) {
				return p
			}
		}
		return nil
	}
	waitUntil(t, "both roles are held", func() bool { return holder("intake") != nil && holder("sender") != nil })

	// A graceful stop gives the roles up, stage by stage, and a standby takes them.
	first := holder("sender")
	if got := gauge(t, first.r, "sender"); got != 1 {
		t.Errorf("herald_role_leader{role=sender} of the holder = %v; want 1", got)
	}
	first.stop()
	waitUntil(t, "another process takes the sender", func() bool { h := holder("sender"); return h != nil && h != first })
	if got := gauge(t, first.r, "sender"); got != 0 {
		t.Errorf("herald_role_leader{role=sender} of the stopped process = %v; want 0", got)
	}

	c.mu.Lock()
	for role, n := range c.most {
		if n != 1 {
			t.Errorf("role %s ran in %d processes at once across a graceful handover; want 1", role, n)
		}
	}
	c.mu.Unlock()

	// A holder whose lease connection dies (kill -9 as Postgres sees it) loses its roles; a
	// standby takes them. The old holder, alive here, runs on until its next beat finds the
	// lease gone (a second at most): that overlap is what the outbox claims' grace covers.
	second := holder("sender")
	if _, err := st.Pool().Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = $1`, second.lessee.ID()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the last process takes the sender", func() bool {
		h := holder("sender")
		return h != nil && h != first && h != second
	})
	// The killed one reconnects and stands by rather than taking the role back.
	waitUntil(t, "the killed process stopped its roles and stands by", func() bool {
		return len(second.r.Held()) == 0 && second.lessee.Beat(context.Background()) == nil
	})
	time.Sleep(3 * second.r.interval) // and it does not take them back
	if h := holder("sender"); h == second || h == nil {
		t.Errorf("sender holder after the reconnect: %v; want the third process", h)
	}
}

// A process stops its roles stage by stage: the intake (stage 0) has stopped before the
// sender (stage 1) is told to, so replies of the handlers in flight still go out.
func TestRolesStopInStages(t *testing.T) {
	st := storetest.New(t)
	c := &roleCounter{running: map[string]int{}, most: map[string]int{}}
	p := startRoles(t, st, c, "p1")
	waitUntil(t, "both roles are held", func() bool { return len(p.r.Held()) == 2 })
	p.stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	want := []string{"stop intake", "stop sender"}
	if got := c.order[len(c.order)-2:]; !slices.Equal(got, want) {
		t.Errorf("stop order %v; want %v last", c.order, want)
	}
}

// A role whose part returns on its own while herald runs stops herald, as any part does.
func TestRolesPartEndingStopsHerald(t *testing.T) {
	st := storetest.New(t)
	l, err := st.NewLessee(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	ended := make(chan error, 1)
	r := newRoleRunner(l, ended, zerolog.Nop())
	r.interval = 20 * time.Millisecond
	var calls atomic.Int32
	r.add("poller", 0, func(ctx context.Context) error { calls.Add(1); return nil }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("nil report")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a role that returned did not stop herald")
	}
}

func gauge(t *testing.T, r *roleRunner, role string) float64 {
	t.Helper()
	var m dto.Metric
	if err := r.leader.WithLabelValues(role).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
