package bot

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/herald-ci/herald/store"
)

// The intake's queues. Every update reaching them is stored in Postgres already, so memory
// only decides when an update is handled, never whether: a chat whose queue is full drops
// what comes next (and remembers it did), and its updates are read back from the database
// once it caught up. Taking an update in therefore never waits, and one busy chat cannot
// hold up another.
//
// Each chat has its own queue and is on at most one worker at a time, so its commands are
// answered in order; workers take chats in turns, one update per turn, so a private /getid
// is not stuck behind a group's hundred /status. Commands the rate limit drops go to a
// second queue of the chat, so "slow down" is said at once, not after the commands that
// made the chat slow. An update whose handling fails (the database went away) stays at the
// head of its queue, which waits with backoff and tries again in-process.

// queueKey names a queue: a chat's commands, or the chat's commands the rate limit dropped.
type queueKey struct {
	chat    int64
	dropped bool
}

// intakeItem is one update in memory.
type intakeItem struct {
	u        store.Update
	read     updateRead // what the update asks and who asks, read once as it came in
	limit    verdict    // what the rate limit said when the update came in
	attempts int        // failed tries so far
	ran      *prepared
	reload   bool // not an update: read back the chat's updates that had no room in memory
}

// chatQueue is one chat's updates in memory, oldest first.
type chatQueue struct {
	items    []intakeItem
	inflight bool // a worker has the chat, or it waits for a retry
	overflow bool // some of its updates are in Postgres only
}

// admit puts u in its queue unless it is there already. fromDB says it was read back from
// Postgres: a queue that had no room for some updates takes only those, in update_id order,
// until it caught up.
//
// The rate limit charges a command at the time its user sent it (message.date), not when
// herald reads it: after a restart or an outage, a backlog read back at once is judged as it
// was sent, so twenty-five commands sent over an hour all run, while a burst sent in a few
// seconds is still a burst. Buttons carry no date and are charged on arrival.
func (in *Intake) admit(u store.Update, fromDB bool) {
	rd := in.readUpdate(u)
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.held, u.ID) // a sweep found it first
	if in.known[u.ID] || in.recent.has(u.ID) {
		return
	}
	// A chat without room waits for its read-back before the rate limit judges the update,
	// so an update is charged only when it is taken in.
	if in.full(queueKey{chat: u.ChatID}, fromDB) {
		return
	}
	it := intakeItem{u: u, read: rd}
	if rd.counts {
		it.limit = in.limiter.allowAt(rd.sender, u.ChatID, rd.sentAt)
	}
	key := queueKey{chat: u.ChatID, dropped: it.limit.drop}
	if it.limit.drop && in.full(key, fromDB) {
		return
	}
	cq := in.chats[key]
	if cq == nil {
		cq = &chatQueue{}
		in.chats[key] = cq
	}
	i, _ := slices.BinarySearchFunc(cq.items, u.ID, func(e intakeItem, id int64) int {
		switch {
		case e.reload || e.u.ID < id:
			return -1
		case e.u.ID > id:
			return 1
		}
		return 0
	})
	cq.items = slices.Insert(cq.items, i, it)
	in.known[u.ID] = true
	in.readyLocked(key, cq)
}

// full reports (under in.mu) that the queue key has no room for an update: it is full, or
// it is catching up from Postgres and fromDB is false. It then remembers to read back.
func (in *Intake) full(key queueKey, fromDB bool) bool {
	cq := in.chats[key]
	if cq == nil {
		return false
	}
	if !(cq.overflow && !fromDB) && len(cq.items) < in.opts.QueueSize {
		return false
	}
	if !cq.overflow {
		in.log.Warn().Int64("chat_id", key.chat).Int("queued", len(cq.items)).
			Msg("chat has too many updates waiting; later ones are read back from the database when it caught up")
	}
	cq.overflow = true
	return true
}

// readyLocked puts a queue with work in line for a worker.
func (in *Intake) readyLocked(key queueKey, cq *chatQueue) {
	if cq.inflight || len(cq.items) == 0 {
		return
	}
	cq.inflight = true
	in.ready = append(in.ready, key)
	in.cond.Signal()
}

// next waits for a queue with work and takes its oldest update; ok is false once ctx ends.
func (in *Intake) next(ctx context.Context) (key queueKey, it intakeItem, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.ready) == 0 {
		if ctx.Err() != nil {
			return key, it, false
		}
		in.cond.Wait()
	}
	if ctx.Err() != nil {
		return key, it, false
	}
	key, in.ready = in.ready[0], in.ready[1:]
	cq := in.chats[key]
	it, cq.items = cq.items[0], cq.items[1:]
	return key, it, true
}

// finish takes a worker's result for it. On success the chat gets back in line (behind the
// others) if it has more; after a failure that may pass, the update goes back to the head of
// its chat, which waits out a backoff first.
func (in *Intake) finish(key queueKey, it intakeItem, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	cq := in.chats[key]
	if err != nil {
		it.attempts++
		cq.items = slices.Insert(cq.items, 0, it)
		delay := in.retryDelay(it.attempts)
		in.log.Error().Err(err).Int64("update_id", it.u.ID).Int64("chat_id", key.chat).Int("attempt", it.attempts).
			Dur("retry_in", delay).Msg("update not handled; retrying")
		time.AfterFunc(delay, func() {
			in.mu.Lock()
			defer in.mu.Unlock()
			cq.inflight = false
			in.readyLocked(key, cq)
		})
		return
	}
	if !it.reload {
		delete(in.known, it.u.ID)
		in.recent.add(it.u.ID)
	}
	cq.inflight = false
	if len(cq.items) == 0 && cq.overflow {
		// Caught up with what memory held: read the rest back. Clearing overflow first lets
		// what arrives meanwhile queue up behind the read-back, in update_id order.
		cq.overflow = false
		cq.items = append(cq.items, intakeItem{reload: true})
	}
	if len(cq.items) == 0 {
		delete(in.chats, key)
		return
	}
	in.readyLocked(key, cq)
}

// reloadChat reads back the updates of a chat whose queue overflowed.
func (in *Intake) reloadChat(ctx context.Context, key queueKey) error {
	ups, err := in.st.PendingChatUpdates(ctx, key.chat, in.opts.QueueSize)
	if err != nil {
		return err
	}
	if len(ups) == in.opts.QueueSize {
		in.mu.Lock()
		if cq := in.chats[key]; cq != nil {
			cq.overflow = true // more than a queue's worth: read again after these
		}
		in.mu.Unlock()
	}
	for _, u := range ups {
		in.admit(u, true)
	}
	return nil
}

// sweep picks up stored updates that are not handled and not in memory, and were received
// at least minAge ago: at start everything a previous run left, later whatever slipped
// through (a queue read back only in part, a replica that stored an update and died).
func (in *Intake) sweep(ctx context.Context, minAge time.Duration) error {
	ups, err := in.st.PendingUpdates(ctx, minAge, 10000)
	if err != nil {
		return err
	}
	in.mu.Lock()
	fresh := 0
	for _, u := range ups {
		if !in.known[u.ID] && !in.recent.has(u.ID) {
			fresh++
		}
	}
	in.mu.Unlock()
	if fresh > 0 {
		in.log.Info().Int("count", fresh).Msg("handling stored updates that were not handled yet")
	}
	for _, u := range ups {
		in.admit(u, true)
	}
	return nil
}

// retryDelay is the backoff between tries of a chat's update, or of the sweep.
func (in *Intake) retryDelay(attempt int) time.Duration {
	return backoff(in.opts.RetryMin, in.opts.RetryMax, attempt)
}

// recentIDs remembers the last updates handled here, so a sweep that read an update as
// pending just before it was handled does not queue it again (and charge its sender's rate
// limit twice).
type recentIDs struct {
	ring []int64
	next int
	set  map[int64]struct{}
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{ring: make([]int64, n), set: map[int64]struct{}{}}
}

func (r *recentIDs) has(id int64) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recentIDs) add(id int64) {
	delete(r.set, r.ring[r.next])
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}

// errStopped ends a handler cut short by shutdown: the update stays unhandled and runs again
// after the restart.
var errStopped = errors.New("bot: intake stopped while the update was handled")
