package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// Digests is the digests job: every chat (or topic) with /digest set gets a summary of the
// builds of each period of its schedule, queued through the outbox. It runs under the
// "digests" role, in one process at a time, and each period is claimed in the transaction
// that queues its digest (store.Tx.ClaimDigest): two processes, a restart or a failover
// never send a period twice, and periods missed while no process ran are sent once, as one
// digest up to the last scheduled time, when the job runs again.
type Digests struct {
	st   *store.Store
	opts JobOptions
	log  zerolog.Logger
}

// NewDigests makes the digests job. Its Interval is the longest it sleeps before looking at
// the schedules again (a digest set meanwhile is found then); it wakes at the next scheduled
// time when that comes sooner.
func NewDigests(st *store.Store, opts JobOptions, log zerolog.Logger) *Digests {
	opts.defaults(5 * time.Second)
	return &Digests{st: st, opts: opts, log: log}
}

// maxMissedRuns bounds the walk through the runs missed since a digest's last one: a
// schedule of every minute missed for two months is still found due at once.
const maxMissedRuns = 100_000

// DigestGrace is how long after its end a period is digested: a build stored just before
// the end, in a transaction still running then, has committed by the time the digest reads
// the period, and so is counted in it rather than in none (see store.Tx.DigestReport).
const DigestGrace = 5 * time.Second

// DueAt is the last run of sched after last and not after now, and the run after it: the
// period a digest ran last at last covers at now. due is zero when no run fell in (last,
// now].
//
// A run whose wall-clock time in the schedule's zone is the one before's is dropped:
// robfig/cron gives "30 2 * * *" in Europe/Berlin twice on the night clocks go back (02:30
// CEST, then 02:30 CET), and a chat wants one digest of that day. The night clocks go
// forward, 02:30 does not exist and robfig/cron gives no run; the next day's run covers
// both days (nothing is lost, the period simply ends later).
func DueAt(sched cron.Schedule, last, now time.Time) (due, next time.Time) {
	loc := time.UTC
	if s, ok := sched.(*cron.SpecSchedule); ok && s.Location != nil {
		loc = s.Location
	}
	prev := last
	after := func(t time.Time) time.Time {
		n := sched.Next(t)
		if !n.IsZero() && sameWallClock(n, prev, loc) {
			n = sched.Next(n)
		}
		return n
	}
	t := after(last)
	for i := 0; i < maxMissedRuns && !t.IsZero() && !t.After(now); i++ {
		due, prev = t, t
		t = after(t)
	}
	return due, t
}

// sameWallClock says a and b read the same on loc's clocks (to the second), as two
// instants an hour apart do in the hour repeated when clocks go back.
func sameWallClock(a, b time.Time, loc *time.Location) bool {
	const layout = "2006-01-02 15:04:05"
	return a.In(loc).Format(layout) == b.In(loc).Format(layout)
}

// Run sends digests until ctx ends; a failed round is logged and tried again.
func (d *Digests) Run(ctx context.Context) error {
	for {
		next, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn().Err(err).Msg("digests: round failed; trying again")
		}
		wait := d.opts.Interval
		if !next.IsZero() {
			// Clocks of the scheduler's and the machine's time agree only when Clock is
			// time.Now; with another clock (tests) the interval decides.
			if until := time.Until(next.Add(DigestGrace)); until < wait {
				wait = max(until, 10*time.Millisecond)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// RunOnce sends every digest due now (a period DigestGrace after its end), each period in
// a transaction of its own, and returns the earliest next run of any schedule (zero when
// there is none); that run is due DigestGrace after it.
func (d *Digests) RunOnce(ctx context.Context) (time.Time, error) {
	now := d.opts.Clock()
	list, err := d.st.ScheduledDigests(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("bot: digests: %w", err)
	}
	var earliest time.Time
	var firstErr error
	for _, sd := range list {
		sched, err := cron.ParseStandard(sd.Spec)
		if err != nil {
			// Stored by /digest, which parsed it: a newer herald's syntax; say so, skip it.
			d.log.Warn().Err(err).Int64("chat_id", sd.ChatID).Str("spec", sd.Spec).Msg("digests: schedule cannot be read; skipped")
			continue
		}
		due, next := DueAt(sched, sd.Last, now.Add(-DigestGrace))
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
		if due.IsZero() {
			continue
		}
		sent, err := d.send(ctx, sd, due)
		if err != nil {
			d.log.Warn().Err(err).Int64("chat_id", sd.ChatID).Int64("thread_id", sd.ThreadID).Msg("digests: digest failed; trying again")
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if sent {
			d.log.Info().Int64("chat_id", sd.ChatID).Int64("thread_id", sd.ThreadID).Time("period_end", due).Msg("digests: queued")
		}
	}
	return earliest, firstErr
}

// send claims sd's period ending at due and queues its digest, unless the period was empty
// and the chat did not ask for empty ones (the claim still commits: the period is done).
func (d *Digests) send(ctx context.Context, sd store.ScheduledDigest, due time.Time) (bool, error) {
	var sent bool
	err := d.st.InTx(ctx, func(tx *store.Tx) error {
		claimed, err := tx.ClaimDigest(ctx, sd, due)
		if err != nil || !claimed {
			return err
		}
		rep, err := tx.DigestReport(ctx, sd.ChatKey, sd.Last, due)
		if err != nil {
			return err
		}
		if rep.Empty() && !sd.Empty {
			return nil
		}
		msg := store.OutMessage{ChatID: sd.ChatID, ThreadID: sd.ThreadID, Silent: true,
			Text: FormatDigest(rep, zoneOf(sd.Spec), d.opts.ShowConn)}
		sent = true
		return enqueueJob(ctx, tx, d.opts.Wake, []store.OutMessage{msg})
	})
	if err != nil {
		return false, fmt.Errorf("bot: digest for %d: %w", sd.ChatID, err)
	}
	if sent && d.opts.Wake != nil {
		d.opts.Wake()
	}
	return sent, nil
}

// zoneOf is the zone of a stored schedule (its CRON_TZ=), UTC without one or with a zone
// this binary does not know.
func zoneOf(spec string) *time.Location {
	name, _ := commands.ScheduleZone(spec)
	if loc, err := commands.LoadZone(name); err == nil {
		return loc
	}
	return time.UTC
}
