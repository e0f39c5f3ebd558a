package bot

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/herald-ci/herald/store"
)

// How updates reach the intake when herald runs as several replicas. Any replica may store
// an update (the webhook is served by every one; the poller may run in another process), and
// SaveUpdates names the ids it stored in a notification on store.UpdatesChannel, delivered at
// commit. The intake listens while it runs and takes in what the notifications name: the ids
// it holds already cost nothing, the others are read in one query per gathering.
//
// Order: Telegram sends a chat's next update to a webhook only once the previous one was
// answered 200 (telegram-bot-api keeps a queue per chat), herald answers 200 only after the
// commit, and a poller stores its batches one after the other; so one chat's updates commit
// in update_id order, whichever replica stores them. Postgres delivers notifications in
// commit order, so the intake takes updates in the order the notifications name them, and
// holds what this process Submits until its own notification comes: handed on at once, an
// update stored here could overtake an earlier one of the same chat another replica stored
// whose notification is still on its way, or waiting in a gathering. Within a gathering the
// updates are taken in update_id order, and a chat's queue keeps them so.
//
// Notifications may be lost (the listening connection broke, or was not up yet): after every
// (re)connection the intake sweeps everything stored and unhandled; something held here too
// long (the listener is down) is taken anyway; and the periodic sweep of Run remains.

// Submitter takes updates that are stored already. The webhook and the poller hand what they
// stored to one: the intake, when this process holds it, or nil, since the holder hears of
// them from Postgres anyway; the local one only spares it reading them back.
type Submitter interface {
	Submit(ups ...store.Update)
}

// heldUpdate is an update Submit passed, waiting for its notification.
type heldUpdate struct {
	u  store.Update
	at time.Time
}

// Submit takes stored updates for handling. It never blocks and does no I/O: what it takes
// waits for its notification (see above), and what it misses is read back from Postgres.
// A nil intake takes nothing: the process does not hold the intake, and the holder hears of
// the updates from Postgres.
func (in *Intake) Submit(ups ...store.Update) {
	if in == nil || len(ups) == 0 {
		return
	}
	now := time.Now()
	in.mu.Lock()
	for _, u := range ups {
		if !in.known[u.ID] && !in.recent.has(u.ID) {
			in.held[u.ID] = heldUpdate{u: u, at: now}
		}
	}
	in.mu.Unlock()
	in.poke()
}

// poke wakes the listen loop; pokes while it is busy coalesce into one.
func (in *Intake) poke() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// heard takes a notification's payload (from store.Listen): ids to read, or "" (or anything
// unreadable) for "some may be missed", which asks for a sweep of everything unhandled.
func (in *Intake) heard(payload string) {
	ids, ok := store.ParseUpdateIDs(payload)
	in.mu.Lock()
	switch {
	case !ok:
		in.sweepAll, in.noticed = true, nil
	case !in.sweepAll:
		in.noticed = append(in.noticed, ids...)
	}
	in.mu.Unlock()
	in.poke()
}

// listen runs the listener and takes in what it hears until ctx ends. Nothing is taken
// before started is closed (the start sweep is done): after a takeover the previous holder
// may have left a chat's earlier updates unhandled, and a newer one must not go first.
func (in *Intake) listen(ctx context.Context, started <-chan struct{}) {
	listened := make(chan struct{})
	go func() {
		defer close(listened)
		// Each time the LISTEN is in place, what committed before it was not heard: sweep.
		_ = in.st.Listen(ctx, store.UpdatesChannel, func() { in.heard("") }, in.heard)
	}()
	defer func() { <-listened }()
	select {
	case <-ctx.Done():
		return
	case <-started:
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	fails := 0
	for {
		timer.Reset(in.nextExpiry())
		select {
		case <-ctx.Done():
			return
		case <-in.wake:
			// Gather before reading: at a thousand updates a second, one query per
			// notification would be a query per millisecond. What this process submitted
			// needs no read, and goes on at once.
			if in.mustRead() && !sleep(ctx, in.opts.gather) {
				return
			}
		case <-timer.C:
		}
		if err := in.takeNoticed(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			fails++
			wait := in.retryDelay(fails)
			in.log.Error().Err(err).Dur("retry_in", wait).Msg("cannot read notified updates; sweeping for them")
			in.mu.Lock()
			in.sweepAll, in.noticed = true, nil
			in.mu.Unlock()
			if !sleep(ctx, wait) {
				return
			}
			in.poke()
			continue
		}
		fails = 0
	}
}

// mustRead reports that what was noticed needs Postgres: a sweep, or an id not held here.
func (in *Intake) mustRead() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.sweepAll {
		return true
	}
	for _, id := range in.noticed {
		if _, ok := in.held[id]; !ok && !in.known[id] && !in.recent.has(id) {
			return true
		}
	}
	return false
}

// nextExpiry is how long until the oldest held update is taken without its notification.
func (in *Intake) nextExpiry() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	next := time.Hour
	now := time.Now()
	for _, h := range in.held {
		next = min(next, h.at.Add(in.opts.holdMax).Sub(now))
	}
	return max(next, time.Millisecond)
}

// takeNoticed takes in what was notified since the last time, and held updates whose
// notification is overdue, in update_id order.
func (in *Intake) takeNoticed(ctx context.Context) error {
	in.mu.Lock()
	ids, all := in.noticed, in.sweepAll
	in.noticed, in.sweepAll = nil, false
	var take []store.Update
	var read []int64
	for _, id := range ids {
		switch h, ok := in.held[id]; {
		case ok:
			take = append(take, h.u)
			delete(in.held, id)
		case in.known[id] || in.recent.has(id):
		default:
			read = append(read, id)
		}
	}
	now := time.Now()
	for id, h := range in.held {
		if now.Sub(h.at) >= in.opts.holdMax {
			take = append(take, h.u)
			delete(in.held, id)
		}
	}
	in.mu.Unlock()
	if all {
		// Everything stored and unhandled, held updates included, in update_id order.
		if err := in.sweep(ctx, 0); err != nil {
			return err // what was taken out is stored: the sweep after the failure finds it
		}
	}
	if len(read) > 0 {
		ups, err := in.st.UpdatesByID(ctx, read)
		if err != nil {
			return err
		}
		take = append(take, ups...)
	}
	slices.SortFunc(take, func(a, b store.Update) int { return cmp.Compare(a.ID, b.ID) })
	for _, u := range take {
		// New arrivals, not read-backs: a chat whose queue is catching up from Postgres reads
		// them in their turn instead of taking them ahead of its earlier updates.
		in.admit(u, false)
	}
	return nil
}
