package hook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/herald-ci/herald/ci"
)

// Seen is what the history holds of one check: when its newest result came, and the one
// before (zero when there was only one).
type Seen struct {
	Check        string
	Last, Before time.Time
}

// History is what a check provider reads of the results stored: every one of them came by
// webhook, so the store is the only place that knows them. *store.Store implements it.
type History interface {
	// LastCompleted is the newest result of every check of conn.
	LastCompleted(ctx context.Context, conn string) ([]ci.Build, error)
	// RecentBuilds is the newest n results of one check, newest first.
	RecentBuilds(ctx context.Context, conn, builder string, n int) ([]ci.Build, error)
	BuildByID(ctx context.Context, conn, id string) (ci.Build, error)
	// CheckSeen is Seen for every check of conn.
	CheckSeen(ctx context.Context, conn string) ([]Seen, error)
}

// Check is a check hook as a CI connection (ci.Provider): its builders are the checks that
// reported, its builds their results. Results arrive only by webhook (it is a
// ci.WebhookParser); it streams (ci.Streamer) only the checks that fall silent for longer
// than expect_every and their return, as worker events, so the Follower that runs it in one
// replica at a time is the one place that watches the clock.
type Check struct {
	hook *Hook
	mu   sync.RWMutex
	hist History
	// Clock and Tick are for tests; nil and 0 take time.Now and a tenth of expect_every
	// (at least 50ms, at most 30s).
	Clock func() time.Time
	Tick  time.Duration
}

var (
	_ ci.Provider      = (*Check)(nil)
	_ ci.Streamer      = (*Check)(nil)
	_ ci.WebhookParser = (*Check)(nil)
)

// NewCheck makes the provider of a check hook; it needs its History (Attach) before it is
// asked anything.
func NewCheck(h *Hook) *Check { return &Check{hook: h} }

// Attach gives the provider the store it reads results from.
func (c *Check) Attach(h History) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hist = h
}

// Hook is the hook the provider serves.
func (c *Check) Hook() *Hook { return c.hook }

var errDetached = errors.New("hook: check provider has no history attached")

func (c *Check) history() (History, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.hist == nil {
		return nil, errDetached
	}
	return c.hist, nil
}

func (c *Check) now() time.Time {
	if c.Clock != nil {
		return c.Clock()
	}
	return time.Now()
}

func (c *Check) Name() string { return c.hook.cfg.Name }
func (c *Check) Kind() string { return "hook" }

// fresh reports whether a check that last reported at last counts as reporting.
func (c *Check) fresh(last time.Time) bool {
	e := c.hook.cfg.ExpectEvery
	return e <= 0 || !c.now().After(last.Add(e))
}

// Builders are the checks that ever reported; a silent one is offline.
func (c *Check) Builders(ctx context.Context) ([]ci.Builder, error) {
	h, err := c.history()
	if err != nil {
		return nil, err
	}
	last, err := h.LastCompleted(ctx, c.Name())
	if err != nil {
		return nil, fmt.Errorf("hook: checks of %s: %w", c.Name(), err)
	}
	out := make([]ci.Builder, 0, len(last))
	for _, b := range last {
		out = append(out, ci.Builder{Conn: c.Name(), ID: b.Builder, Name: b.Builder, Online: c.fresh(b.FinishedAt)})
	}
	return out, nil
}

// RunningBuilds is none: a check's result is finished when it arrives.
func (c *Check) RunningBuilds(ctx context.Context) ([]ci.Build, error) { return nil, nil }

func (c *Check) LastBuilds(ctx context.Context, builder string, n int) ([]ci.Build, error) {
	h, err := c.history()
	if err != nil {
		return nil, err
	}
	bs, err := h.RecentBuilds(ctx, c.Name(), builder, n)
	if err != nil {
		return nil, fmt.Errorf("hook: results of %s/%s: %w", c.Name(), builder, err)
	}
	return bs, nil
}

func (c *Check) Build(ctx context.Context, id string) (ci.Build, error) {
	h, err := c.history()
	if err != nil {
		return ci.Build{}, err
	}
	b, err := h.BuildByID(ctx, c.Name(), id)
	if err != nil {
		return ci.Build{}, fmt.Errorf("hook: result %s of %s: %w: %w", id, c.Name(), ci.ErrNotFound, err)
	}
	return b, nil
}

// Workers are the checks watched for silence (expect_every), connected while they report.
func (c *Check) Workers(ctx context.Context) ([]ci.Worker, error) {
	if c.hook.cfg.ExpectEvery <= 0 {
		return nil, ci.ErrUnsupported
	}
	h, err := c.history()
	if err != nil {
		return nil, err
	}
	seen, err := h.CheckSeen(ctx, c.Name())
	if err != nil {
		return nil, fmt.Errorf("hook: checks of %s: %w", c.Name(), err)
	}
	out := make([]ci.Worker, 0, len(seen))
	for _, s := range seen {
		out = append(out, ci.Worker{Conn: c.Name(), ID: s.Check, Name: s.Check, Connected: c.fresh(s.Last), Builders: []string{s.Check}})
	}
	return out, nil
}

// ParseWebhook is the ci.WebhookParser of a check hook, for the generic CI webhook route
// (POST /ci/<name>/webhook): header-borne secrets only (Bearer or an HMAC), as there is no
// query there. POST /hooks/<name> (Handler) takes ?token= too.
func (c *Check) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	if err := c.hook.Authenticate(header, url.Values{}, body); err != nil {
		return ci.Delivery{}, err
	}
	data, err := Decode(body)
	if err != nil {
		return ci.Delivery{}, err
	}
	key, err := c.hook.DedupKey(header.Get("Idempotency-Key"), data)
	if err != nil {
		return ci.Delivery{}, err
	}
	ev, err := c.hook.CheckEvent(data, key, c.now())
	if err != nil {
		return ci.Delivery{}, err
	}
	return ci.Delivery{ID: key, Events: []ci.Event{ev}}, nil
}

// tick is how often Stream looks at the clock.
func (c *Check) tick() time.Duration {
	if c.Tick > 0 {
		return c.Tick
	}
	return min(max(c.hook.cfg.ExpectEvery/10, 50*time.Millisecond), 30*time.Second)
}

// Stream reports the checks that fall silent: a check whose newest result is older than
// expect_every is missing from the moment it became due (its last result plus expect_every),
// and back at its next result. Both times come from the history, not from when this process
// noticed, so the events' keys (ci.Event.Key) are the same in every replica and after every
// restart: one that took over re-reports what is still missing (stored once), and a silence
// that ended while no replica watched (the result before the newest is more than
// expect_every older than it) is reported, missing then back, once. Without expect_every
// there is nothing to stream: it waits for ctx.
func (c *Check) Stream(ctx context.Context, sink ci.EventSink, onConnect func(ctx context.Context) error) error {
	if err := onConnect(ctx); err != nil {
		return fmt.Errorf("hook: %s: catch up: %w", c.Name(), err)
	}
	e := c.hook.cfg.ExpectEvery
	if e <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	missing := map[string]time.Time{} // check → when it became missing, as reported
	judged := map[string]time.Time{}  // check → the newest result whose gap was looked at
	t := time.NewTicker(c.tick())
	defer t.Stop()
	for {
		if err := c.watch(ctx, sink, missing, judged); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// watch is one look at the clock (see Stream).
func (c *Check) watch(ctx context.Context, sink ci.EventSink, missing, judged map[string]time.Time) error {
	h, err := c.history()
	if err != nil {
		return err
	}
	seen, err := h.CheckSeen(ctx, c.Name())
	if err != nil {
		return fmt.Errorf("hook: %s: read checks: %w", c.Name(), err)
	}
	e, now := c.hook.cfg.ExpectEvery, c.now()
	deliver := func(check string, state ci.WorkerState, at time.Time) error {
		w := ci.Worker{Conn: c.Name(), ID: check, Name: check, Connected: state == ci.WorkerOnline, Builders: []string{check}}
		ev := ci.Event{Conn: c.Name(), Kind: ci.KindWorker, Worker: &w, WorkerState: state, At: at}
		if err := sink.Deliver(ctx, ev); err != nil {
			return fmt.Errorf("hook: %s: report %s %s: %w", c.Name(), check, state, err)
		}
		return nil
	}
	for _, s := range seen {
		due := s.Last.Add(e)
		if now.After(due) {
			if !missing[s.Check].Equal(due) {
				if err := deliver(s.Check, ci.WorkerMissing, due); err != nil {
					return err
				}
				missing[s.Check] = due
			}
			continue
		}
		if _, was := missing[s.Check]; was {
			if err := deliver(s.Check, ci.WorkerOnline, s.Last); err != nil {
				return err
			}
			delete(missing, s.Check)
			judged[s.Check] = s.Last
			continue
		}
		if judged[s.Check].Equal(s.Last) {
			continue
		}
		if !s.Before.IsZero() && s.Last.Sub(s.Before) > e {
			// Silent while nobody watched: missing when it became due, back with this result.
			if err := deliver(s.Check, ci.WorkerMissing, s.Before.Add(e)); err != nil {
				return err
			}
			if err := deliver(s.Check, ci.WorkerOnline, s.Last); err != nil {
				return err
			}
		}
		judged[s.Check] = s.Last
	}
	return nil
}
