package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// roleRunner runs the parts of herald that must run in one process at a time over one database —
// the Telegram poller, the update intake, the sender, each CI connection's follower, the
// webhook registration and housekeeping — each under a Postgres advisory lock held on the
// process's lease connection (store.Lessee). Every replica tries the roles it does not hold
// once per interval; whichever gets a lock runs that part until it loses the lock (the lease
// connection broke) or herald stops. A process that is killed loses its locks as soon as
// Postgres sees its socket close, so a standby takes over within about an interval.
type roleRunner struct {
	lessee   *store.Lessee
	log      zerolog.Logger
	interval time.Duration
	ended    chan<- error // a part that returns on its own stops herald (see parts)
	leader   *prometheus.GaugeVec

	tried   atomic.Bool // the first round of tries is done: until then no part has said how it is
	leaseUp atomic.Bool // the lease connection works (false while it is being reconnected)

	mu    sync.Mutex
	list  []*role
	state map[string]bool // held, for Held
}

// role is one part run under a lock.
type role struct {
	name string
	// stage orders shutdown: every stage-0 role has stopped before a stage-1 one is told to
	// (the sender is stage 1: replies of the handlers in flight still go out).
	stage  int
	run    func(ctx context.Context) error
	onStop func() // after run returned: forget its health, drop its reference

	cancel context.CancelFunc
	done   chan struct{}
	err    error // run's result, once done is closed
}

// roleInterval is how often a standby tries the roles it does not hold, and how often the
// holder proves its lease connection still holds them.
const roleInterval = time.Second

func newRoleRunner(l *store.Lessee, ended chan<- error, log zerolog.Logger) *roleRunner {
	r := &roleRunner{
		lessee: l, log: log, interval: roleInterval, ended: ended, state: map[string]bool{},
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_role_leader",
			Help: "1 while this process holds the role (runs that part of herald), 0 while another process does.",
		}, []string{"role"}),
	}
	r.leaseUp.Store(true) // NewLessee connected it
	return r
}

// add names a role; call it before Run. onStop may be nil.
func (r *roleRunner) add(name string, stage int, run func(ctx context.Context) error, onStop func()) {
	r.list = append(r.list, &role{name: name, stage: stage, run: run, onStop: onStop})
	r.leader.WithLabelValues(name).Set(0)
}

// Held lists the roles this process holds now, sorted.
func (r *roleRunner) Held() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, held := range r.state {
		if held {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Run takes and keeps roles until ctx ends, then stops them stage by stage and releases
// their locks, so the standbys take over at once rather than when the lease connection
// closes.
func (r *roleRunner) Run(ctx context.Context) {
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for {
		r.step(ctx)
		r.tried.Store(true)
		select {
		case <-ctx.Done():
			r.stopAll("herald is stopping", true)
			return
		case <-tick.C:
		}
	}
}

// step proves the lease, reacts to a role that ended on its own, and tries the free roles.
func (r *roleRunner) step(ctx context.Context) {
	if err := r.lessee.Beat(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, store.ErrLeaseLost) {
			r.leaseUp.Store(false)
			r.stopAll("the lease connection to Postgres broke or stopped answering; another process may take over", false)
			r.reconnect(ctx)
			return
		}
		r.log.Warn().Err(err).Msg("cannot beat the lease")
	}
	for _, ro := range r.list {
		if ro.done == nil {
			continue
		}
		select {
		case <-ro.done:
			// It returned while herald was running: like any part, that stops herald.
			err := ro.err
			if err == nil {
				err = errReturned
			}
			r.finished(ro)
			_ = r.lessee.ReleaseRole(ctx, ro.name)
			select {
			case r.ended <- fmt.Errorf("herald: the part under role %s stopped while herald was running: %w", ro.name, err):
			default:
			}
		default:
		}
	}
	for _, ro := range r.list {
		if ro.done != nil || ctx.Err() != nil {
			continue
		}
		ok, err := r.lessee.TryRole(ctx, ro.name)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Str("role", ro.name).Msg("cannot try the role")
			}
			return // the next beat finds out whether the lease is gone
		}
		if ok {
			r.start(ro)
		}
	}
}

func (r *roleRunner) start(ro *role) {
	ctx, cancel := context.WithCancel(context.Background())
	ro.cancel, ro.done, ro.err = cancel, make(chan struct{}), nil
	r.setHeld(ro.name, true)
	r.log.Info().Str("role", ro.name).Str("process", r.lessee.Name()).Msg("took the role")
	go func() {
		defer close(ro.done)
		ro.err = ro.run(ctx)
	}()
}

// finished forgets a role whose run returned, and gives its lock back.
func (r *roleRunner) finished(ro *role) {
	ro.cancel()
	ro.cancel, ro.done = nil, nil
	if ro.onStop != nil {
		ro.onStop()
	}
	r.setHeld(ro.name, false)
}

// stopAll stops every role held. With release (herald stops) it goes stage by stage, each
// stage waited for, and gives each lock back; a lost lease holds nothing to give back and
// another process may be taking over already, so every role is told at once.
func (r *roleRunner) stopAll(why string, release bool) {
	maxStage := 0
	for _, ro := range r.list {
		maxStage = max(maxStage, ro.stage)
	}
	if !release {
		for _, ro := range r.list {
			if ro.done != nil {
				ro.cancel()
			}
		}
	}
	for stage := 0; stage <= maxStage; stage++ {
		var stopping []*role
		for _, ro := range r.list {
			if ro.stage == stage && ro.done != nil {
				ro.cancel()
				stopping = append(stopping, ro)
			}
		}
		for _, ro := range stopping {
			<-ro.done
			r.finished(ro)
			if release {
				rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := r.lessee.ReleaseRole(rctx, ro.name); err != nil {
					r.log.Warn().Err(err).Str("role", ro.name).Msg("cannot release the role; it goes with the lease connection")
				}
				cancel()
				r.log.Info().Str("role", ro.name).Msg("gave up the role: " + why)
			} else {
				r.log.Warn().Str("role", ro.name).Msg("lost the role: " + why)
			}
		}
	}
}

// reconnect makes a new lease connection, retrying until it works or ctx ends.
func (r *roleRunner) reconnect(ctx context.Context) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := r.lessee.Reconnect(ctx)
		if err == nil {
			r.leaseUp.Store(true)
			r.log.Info().Msg("lease connection back; taking free roles again")
			return
		}
		wait := min(time.Duration(attempt)*r.interval, 10*time.Second)
		r.log.Warn().Err(err).Dur("retry_in", wait).Msg("cannot reconnect the lease")
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
}

func (r *roleRunner) setHeld(name string, held bool) {
	r.mu.Lock()
	r.state[name] = held
	r.mu.Unlock()
	v := 0.0
	if held {
		v = 1
	}
	r.leader.WithLabelValues(name).Set(v)
}
