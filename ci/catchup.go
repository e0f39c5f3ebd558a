package ci

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// CatchUp delivers, oldest first, every build start and finish after the cursor less the
// slack that the provider's ChangeLister knows, then the returns of workers that were away
// (when the provider lists workers). The Follower runs it on every (re)connect and at
// intervals; delivering moves the cursor.
func (f *Follower) CatchUp(ctx context.Context) error {
	if f.lister != nil {
		after := f.Cursor().Add(-f.opts.CatchUpSlack)
		bs, err := f.lister.BuildsChangedSince(ctx, after)
		if err != nil {
			return fmt.Errorf("ci: catch up %s: %w", f.p.Name(), err)
		}
		for _, ev := range catchUpEvents(f.p.Name(), after, bs) {
			if err := f.deliver(ctx, ev); err != nil {
				return err
			}
		}
	}
	if err := f.catchUpWorkers(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, at := range f.delivered {
		if at.Before(f.cursor.Add(-f.opts.CatchUpSlack - time.Hour)) {
			delete(f.delivered, k)
		}
	}
	return nil
}

// catchUpEvents turns the builds that changed after after into started and finished events,
// in the order they happened: by time, a start before a finish at the same time, and else in
// the provider's order.
func catchUpEvents(conn string, after time.Time, bs []Build) []Event {
	var evs []Event
	seen := map[string]bool{}
	for _, b := range bs {
		if seen[b.ID] {
			continue
		}
		seen[b.ID] = true
		if b.StartedAt.After(after) {
			sb := StartedView(b)
			evs = append(evs, Event{Conn: conn, Kind: KindStarted, Build: &sb, At: b.StartedAt, CatchUp: true})
		}
		if b.Complete {
			fb := b
			evs = append(evs, Event{Conn: conn, Kind: KindFinished, Build: &fb, At: b.FinishedAt, CatchUp: true})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		return a.Kind == KindStarted && b.Kind != KindStarted
	})
	return evs
}

// StartedView is a build as it was when it started, for a started event reported after the
// build moved on (a catch-up, or a stream that reads the build's current state).
func StartedView(b Build) Build {
	b.Complete = false
	b.Result = ResultNone
	b.FinishedAt = time.Time{}
	b.FailedStep = ""
	return b
}

// catchUpWorkers compares the workers connected now with those last seen: a worker that
// came back while nobody listened is reported online, and one found away when herald starts
// following is reported when it comes back. A worker that first appears later, away (a cloud
// agent launching: Kubernetes, EC2), is new rather than missing: its coming online is not
// news. A provider that lists no workers is skipped.
func (f *Follower) catchUpWorkers(ctx context.Context) error {
	ws, err := f.p.Workers(ctx)
	if errors.Is(err, ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ci: catch up workers of %s: %w", f.p.Name(), err)
	}
	f.mu.Lock()
	first := !f.listed
	f.listed = true
	f.mu.Unlock()
	for _, w := range ws {
		f.mu.Lock()
		prev, known := f.connected[w.Name]
		f.connected[w.Name] = w.Connected
		back := w.Connected && known && !prev && f.missing[w.Name]
		if !w.Connected && !known && first {
			// Found away when herald starts following: report it when it comes back.
			f.missing[w.Name] = true
		}
		f.mu.Unlock()
		if back {
			cw := w
			ev := Event{Conn: f.p.Name(), Kind: KindWorker, Worker: &cw, WorkerState: WorkerOnline, At: f.opts.Clock.Now().UTC(), CatchUp: true}
			if err := f.deliver(ctx, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// deliver hands an event to the sink unless the Follower delivered it already, and moves
// the cursor with a build event's time — never back, and never past what herald's clock
// allows (a provider makes times plausible; this holds even if one did not).
func (f *Follower) deliver(ctx context.Context, ev Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := ev.Key()
	if _, ok := f.delivered[key]; ok {
		return nil
	}
	if ev.Worker != nil {
		switch ev.WorkerState {
		case WorkerOnline:
			f.connected[ev.Worker.Name] = true
			if !f.missing[ev.Worker.Name] {
				return nil // connected again before it was missed: no news
			}
		case WorkerMissing:
			f.connected[ev.Worker.Name] = false
			f.missing[ev.Worker.Name] = true
		}
	}
	if err := f.sink.Deliver(ctx, ev); err != nil {
		return fmt.Errorf("ci: deliver %s: %w", key, err)
	}
	f.delivered[key] = ev.At
	if ev.Worker != nil && ev.WorkerState == WorkerOnline {
		delete(f.missing, ev.Worker.Name)
	}
	if ev.Build != nil && ev.At.After(f.cursor) && !ev.At.After(f.opts.Clock.Now().Add(MaxClockSkew)) {
		f.cursor = ev.At
	}
	return nil
}

// streamSink is the sink a Streamer delivers to: the Follower's, so a live event the
// catch-up delivered already is dropped, and a worker's return is told only after its loss.
type streamSink struct{ f *Follower }

func (s *streamSink) Deliver(ctx context.Context, ev Event) error { return s.f.deliver(ctx, ev) }
