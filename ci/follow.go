package ci

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults of FollowOptions.
const (
	DefaultCatchUpSlack = 5 * time.Minute
	DefaultPoll         = time.Minute
	DefaultReconcile    = 10 * time.Minute
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultHealthy      = time.Minute
)

// ErrNotFollowed is returned by Run for a provider that can neither stream nor list changed
// builds: there is nothing to follow it with.
var ErrNotFollowed = errors.New("ci: this CI can neither stream events nor list changed builds")

// FollowOptions tune a Follower. Zero fields take the provider's FollowTuner values, then
// the defaults.
type FollowOptions struct {
	// CatchUpSlack is how far before the cursor every catch-up looks, so a build stamped a
	// little before the newest one seen (builds finish out of order, an event was in flight)
	// is not lost. The duplicates it causes are dropped by the Follower and by the sink.
	CatchUpSlack time.Duration
	// Poll is the wait between catch-ups of a provider followed by polling alone.
	Poll time.Duration
	// Reconcile is the wait between catch-ups while a stream is up: the safety net for an
	// event the stream lost without dropping.
	Reconcile time.Duration
	// MinBackoff and MaxBackoff bound the wait before a reconnect (or a retry of a failed
	// poll): it doubles from MinBackoff after every failure, up to MaxBackoff, with jitter.
	MinBackoff, MaxBackoff time.Duration
	// Healthy is how long a stream must have been up for the backoff to start over.
	Healthy time.Duration
	// Clock is read for now and waited on; nil is the system clock. Tests pass a fake.
	Clock Clock
	// Jitter spreads a wait so that many followers do not reconnect in step; nil picks a
	// duration between d/2 and d at random.
	Jitter func(d time.Duration) time.Duration
	// Report is told every failure the Follower retries (a dropped stream, a failed catch-up)
	// and how long it waits first; nil ignores them. The Follower logs nothing itself.
	Report func(err error, retryIn time.Duration)
}

// Clock is what a Follower reads the time from and waits on.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func (o FollowOptions) withDefaults(p Provider) FollowOptions {
	var tuned FollowOptions
	if t, ok := p.(FollowTuner); ok {
		tuned = t.FollowOptions()
	}
	pick := func(d, t, def time.Duration) time.Duration {
		switch {
		case d > 0:
			return d
		case t > 0:
			return t
		}
		return def
	}
	o.CatchUpSlack = pick(o.CatchUpSlack, tuned.CatchUpSlack, DefaultCatchUpSlack)
	o.Poll = pick(o.Poll, tuned.Poll, DefaultPoll)
	o.Reconcile = pick(o.Reconcile, tuned.Reconcile, DefaultReconcile)
	o.MinBackoff = pick(o.MinBackoff, tuned.MinBackoff, DefaultMinBackoff)
	o.MaxBackoff = pick(o.MaxBackoff, tuned.MaxBackoff, DefaultMaxBackoff)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	o.Healthy = pick(o.Healthy, tuned.Healthy, DefaultHealthy)
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Jitter == nil {
		o.Jitter = jitter
	}
	if o.Report == nil {
		o.Report = func(error, time.Duration) {}
	}
	return o
}

// Follower follows one CI connection for every kind of provider alike: it streams when the
// provider can, reconnects with backoff, catches up from its cursor on every (re)connect and
// at intervals through the provider's ChangeLister, hands each event to the sink once, and
// moves its cursor only with the times of the build events it delivered (the CI's clock, the
// clock the ChangeLister is asked in; see store.Cursor). A provider without a Streamer is
// followed by polling alone.
type Follower struct {
	p        Provider
	streamer Streamer     // nil when the provider cannot stream
	lister   ChangeLister // nil when the provider cannot list changes
	sink     EventSink
	opts     FollowOptions

	mu        sync.Mutex           // held while an event is delivered: deliveries never overlap
	cursor    time.Time            // catch up from here (less the slack); the CI's clock
	delivered map[string]time.Time // event key → event time, pruned as the cursor moves on
	connected map[string]bool      // worker name → connected, as last seen
	missing   map[string]bool      // workers reported missing (or found away) and not yet back
	listed    bool                 // the workers were listed once: a worker first seen later is new, not back
}

// NewFollower makes a follower of p that delivers to sink, starting from cursor: the time
// of the newest build event herald stored for p, zero when none was (it then starts from now,
// so a first start does not replay the CI's history).
func NewFollower(p Provider, sink EventSink, cursor time.Time, opts FollowOptions) *Follower {
	f := &Follower{p: p, sink: sink, opts: opts.withDefaults(p),
		delivered: map[string]time.Time{}, connected: map[string]bool{}, missing: map[string]bool{}}
	f.streamer, _ = p.(Streamer)
	f.lister, _ = p.(ChangeLister)
	if cursor.IsZero() {
		// Nothing seen yet: herald's clock is the only one known, and the slack covers a CI
		// a little behind it.
		cursor = f.opts.Clock.Now()
	}
	f.cursor = cursor
	return f
}

// Cursor is the time the next catch-up starts from (less the slack).
func (f *Follower) Cursor() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor
}

// Run follows the provider until ctx ends (it returns ctx's error, wrapped) or the sink
// returns an error wrapping ErrStop (returned as it is). A sink that fails otherwise makes it
// reconnect (or poll again) and catch up, so the event is offered once more.
func (f *Follower) Run(ctx context.Context) error {
	switch {
	case f.streamer != nil:
		return f.runStream(ctx)
	case f.lister != nil:
		return f.runPoll(ctx)
	}
	return fmt.Errorf("ci: follow %s: %w", f.p.Name(), ErrNotFollowed)
}

// runStream keeps a stream up, reconnecting with backoff.
func (f *Follower) runStream(ctx context.Context) error {
	backoff := f.opts.MinBackoff
	for {
		up, err := f.session(ctx)
		if errors.Is(err, ErrStop) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ci: follow %s: %w", f.p.Name(), ctx.Err())
		}
		if !up.IsZero() && f.opts.Clock.Now().Sub(up) >= f.opts.Healthy {
			backoff = f.opts.MinBackoff
		}
		if err := f.wait(ctx, err, backoff); err != nil {
			return err
		}
		backoff = min(backoff*2, f.opts.MaxBackoff)
	}
}

// wait reports err and sleeps for a jittered d, or less when ctx ends (then it returns ctx's
// error, wrapped). A CI that said how long to wait (RetryAfter) is waited on at least that
// long: asking sooner only earns another refusal.
func (f *Follower) wait(ctx context.Context, err error, d time.Duration) error {
	d = f.opts.Jitter(d)
	if ra, ok := RetryAfter(err); ok && ra > d {
		d = ra
	}
	f.opts.Report(err, d)
	return f.sleep(ctx, d)
}

func (f *Follower) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("ci: follow %s: %w", f.p.Name(), ctx.Err())
	case <-f.opts.Clock.After(d):
		return nil
	}
}

// session is one stream: catch up once connected, reconcile at intervals while it lasts.
// up is when it connected, zero when it never did.
func (f *Follower) session(ctx context.Context) (up time.Time, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup // the reconciler, which ends with sctx
	var stopErr error     // an ErrStop the reconciler met, under stopMu
	var stopMu sync.Mutex
	onConnect := func(ctx context.Context) error {
		up = f.opts.Clock.Now()
		if err := f.CatchUp(ctx); err != nil {
			return err
		}
		if f.lister == nil {
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f.sleep(sctx, f.opts.Reconcile) == nil {
				err := f.CatchUp(sctx)
				switch {
				case errors.Is(err, ErrStop):
					stopMu.Lock()
					stopErr = err
					stopMu.Unlock()
					cancel()
					return
				case err != nil && sctx.Err() == nil:
					// The stream is still up: try again at the next interval.
					f.opts.Report(fmt.Errorf("ci: reconcile %s: %w", f.p.Name(), err), f.opts.Reconcile)
				}
			}
		}()
		return nil
	}
	err = f.streamer.Stream(sctx, &streamSink{f}, onConnect)
	cancel()
	wg.Wait()
	stopMu.Lock()
	defer stopMu.Unlock()
	if stopErr != nil {
		return up, stopErr
	}
	if err == nil {
		err = fmt.Errorf("ci: stream of %s ended", f.p.Name())
	}
	return up, err
}

// runPoll follows a provider that cannot stream: a catch-up every Poll, with backoff while
// they fail.
func (f *Follower) runPoll(ctx context.Context) error {
	backoff := f.opts.MinBackoff
	for {
		err := f.CatchUp(ctx)
		switch {
		case errors.Is(err, ErrStop):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("ci: follow %s: %w", f.p.Name(), ctx.Err())
		case err != nil:
			if err := f.wait(ctx, err, backoff); err != nil {
				return err
			}
			backoff = min(backoff*2, f.opts.MaxBackoff)
			continue
		}
		backoff = f.opts.MinBackoff
		if err := f.sleep(ctx, f.opts.Poll); err != nil {
			return err
		}
	}
}
