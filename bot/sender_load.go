package bot

// The sender's side that talks to the outbox rather than to Telegram: claiming rows (replies
// first), taking over from a previous sender and handing rows back on stop, and pruning
// the send log, groups and anchors.

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/herald-ci/herald/store"
)

// sendLogSpan is the longest window Telegram counts sends in (20 per minute per group), and
// so how much send history a starting sender needs.
const sendLogSpan = time.Minute

// How long a group outlives its window (a sender's clock may be off a little, the rows of
// a restart come late), and how long a problem waits for its recovery to answer it.
const (
	groupKeep  = time.Hour
	anchorKeep = 60 * 24 * time.Hour
)

// pruneSendLog keeps the send log to the last minute, once a minute, until ctx ends; it
// drops groups whose windows closed and anchors nobody answered for too long with it.
func (s *Sender) pruneSendLog(ctx context.Context) {
	tick := time.NewTicker(sendLogSpan)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := s.st.PruneSentLog(ctx, s.opts.Clock().Add(-sendLogSpan)); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("sender: prune the send log")
		}
		now := s.opts.Clock()
		if err := s.st.PruneGroups(ctx, now.Add(-max(groupKeep, 2*maxGroupWindows*s.opts.GroupWindow)), now.Add(-anchorKeep)); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("sender: prune message groups and reply anchors")
		}
	}
}

// load claims outbox rows whenever woken (NOTIFY, the poll interval, room freed) and hands
// them to the loop, holding at most MaxInMemory.
func (s *Sender) load(ctx context.Context, wake <-chan struct{}, out chan<- []store.Queued) {
	const batch = 1000
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	fails := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
		for {
			// Replies first, and whatever the rows held: a command answered behind a
			// backlog of MaxInMemory notifications would wait for most of them to go.
			if !s.claimInteractive(ctx, out) {
				return
			}
			room := int64(s.opts.MaxInMemory) - s.held.Load()
			if room <= 0 {
				break
			}
			rows, err := s.st.ClaimOutbox(ctx, s.opts.Process, int(min(room, batch)))
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				fails++
				if errors.Is(err, store.ErrNotAlive) {
					// The lease is gone: the role goes with it, and ctx ends soon.
					s.log.Warn().Err(err).Msg("sender: claim nothing more: this process lost its lease")
				} else {
					s.log.Error().Err(err).Msg("sender: claim outbox")
				}
				if !sleep(ctx, backoff(100*time.Millisecond, 5*time.Second, fails)) {
					return
				}
				continue
			}
			fails = 0
			if len(rows) == 0 {
				break
			}
			s.held.Add(int64(len(rows)))
			select {
			case out <- rows:
			case <-ctx.Done():
				return
			}
			if len(rows) < batch {
				break
			}
		}
	}
}

// claimInteractive claims every interactive row waiting (store.ClaimInteractive), beyond
// MaxInMemory, and hands them to the loop. It reports false once ctx ended. A failure is
// logged and left to the claim of the other rows, which backs off.
func (s *Sender) claimInteractive(ctx context.Context, out chan<- []store.Queued) bool {
	const batch = 100
	for {
		rows, err := s.st.ClaimInteractive(ctx, s.opts.Process, batch)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			if !errors.Is(err, store.ErrNotAlive) {
				s.log.Error().Err(err).Msg("sender: claim replies")
			}
			return true
		}
		if len(rows) == 0 {
			return true
		}
		s.held.Add(int64(len(rows)))
		select {
		case out <- rows:
		case <-ctx.Done():
			return false
		}
		if len(rows) < batch {
			return true
		}
	}
}

// takeOverPoll is how often a starting sender looks again while a live process holds
// claims: a graceful handover ends within a send or two, and Telegram's per-chat limit is
// one a second.
const takeOverPoll = 250 * time.Millisecond

// takeOver takes back the outbox claims nobody alive holds and returns their chats, then
// waits until no live process holds claims. Such a process is the previous holder of the
// sender role, still finishing its sends in flight: were this sender to start now, it would
// claim a chat's later messages and could send them before the earlier ones that process
// holds. A graceful previous sender hands its rows back as
// it stops (releaseOwn), a killed one is dead as soon as its lease connection goes, and a
// stuck one expires after store.ProcessTTL; each poll takes back what became free.
func (s *Sender) takeOver(ctx context.Context) ([]int64, error) {
	var (
		held       []int64
		seen       = map[int64]bool{}
		waitingFor int32
		since      time.Time
		warned     time.Duration
	)
	for {
		var tb store.TakeBack
		err := retryStart(ctx, s.log, "take back the outbox claims", func(ctx context.Context) error {
			var err error
			tb, err = s.st.TakeBackClaims(ctx, s.opts.Process)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, c := range tb.Chats {
			if !seen[c] {
				seen[c] = true
				held = append(held, c)
			}
		}
		if tb.Rows > 0 {
			s.log.Info().Int64("rows", tb.Rows).Int("chats", len(tb.Chats)).
				Msg("sender: took back outbox rows claimed by processes that are gone; they go out again")
		}
		if !tb.Waiting() {
			sort.Slice(held, func(i, j int) bool { return held[i] < held[j] })
			return held, nil
		}
		switch {
		case tb.Owner.ID != waitingFor:
			waitingFor, since, warned = tb.Owner.ID, time.Now(), 0
			s.log.Info().Int32("owner", tb.Owner.ID).Str("owner_name", tb.Owner.Name).Int64("rows", tb.Owner.Rows).
				Msg("sender: waiting for the previous sender's process to finish or give back the outbox rows it holds, so each chat's messages keep their order")
		case time.Since(since)-warned >= time.Minute:
			warned = time.Since(since).Truncate(time.Minute)
			s.log.Warn().Int32("owner", tb.Owner.ID).Str("owner_name", tb.Owner.Name).Int64("rows", tb.Owner.Rows).
				Dur("waited", warned).Msg("sender: still waiting for a live process to give back the outbox rows it holds; nothing is sent meanwhile")
		}
		if !sleep(ctx, takeOverPoll) {
			return nil, ctx.Err()
		}
	}
}

// releaseTimeout bounds how long a stopping sender tries to hand its rows back.
const releaseTimeout = 10 * time.Second

// releaseOwn hands back the rows this sender still holds, once nothing of them is in flight,
// so the next sender need not wait for this process to die. Run's ctx has ended by then: it
// uses a short context of its own, retrying while the database does not answer.
func (s *Sender) releaseOwn() {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		n, err := s.st.ReleaseOwnClaims(ctx, s.opts.Process)
		if err == nil {
			s.log.Debug().Int64("rows", n).Msg("sender: stopped; gave back the outbox rows it held")
			return
		}
		if !sleep(ctx, backoff(50*time.Millisecond, time.Second, attempt)) {
			// A later sender of this process takes them back; another process's waits
			// until this one stops or is not seen for store.ProcessTTL.
			s.log.Error().Err(err).Msg("sender: cannot give back the outbox rows it held")
			return
		}
	}
}
