package bot

import (
	"context"
	"time"

	"github.com/herald-ci/herald/store"
)

// The plumbing of the scheduled jobs (reminders, digests): their options and how they
// queue what they send.

// JobOptions tune the scheduled jobs (reminders, digests).
type JobOptions struct {
	Clock func() time.Time // default time.Now
	// Wake is called after a commit that queued messages (the sender's Wake when it runs in
	// this process); nil: the commit NOTIFYs the sender.
	Wake func()
	// ShowConn names the CI connection beside builders ("main/docs"), as notifications do.
	ShowConn bool
	// Interval is how often the job looks for work; 0 is its default.
	Interval time.Duration
}

func (o *JobOptions) defaults(interval time.Duration) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = interval
	}
}

// enqueueJob queues a job's messages; with a local sender to wake the commit need not
// NOTIFY (see store.Tx.EnqueueQuiet).
func enqueueJob(ctx context.Context, tx *store.Tx, wake func(), msgs []store.OutMessage) error {
	if wake != nil {
		return tx.EnqueueQuiet(ctx, msgs...)
	}
	return tx.Enqueue(ctx, msgs...)
}
