package bot

import (
	"context"
	"math/rand/v2"
	"time"
)

// Every retry in the transport (getUpdates, storing a batch, start-up reads, an update whose
// handling failed, a send, claiming the outbox) waits with the same backoff, so they behave
// alike during an outage and come back spread out rather than in step.

// Retry bounds for the database and Telegram when nothing more specific applies.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
)

// backoff is exponential with jitter: between half and all of minD·2^(n-1), capped at maxD,
// so parts that failed together during an outage do not all come back in the same instant.
// n counts the failures so far, from 1.
func backoff(minD, maxD time.Duration, n int) time.Duration {
	d := minD
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	d = min(d, maxD)
	return d/2 + rand.N(d/2+1)
}

// RetryWait is how long to wait before try attempt+1 of something that failed attempt times:
// the transport's backoff, for the parts of herald outside this package that retry too
// (start-up waits for Telegram, the CI cursor, the webhook registration).
func RetryWait(attempt int) time.Duration { return backoff(retryMin, retryMax, attempt) }

// Sleep waits d, or less when ctx ends first; it reports whether the whole wait passed. A
// SIGTERM during a retry's wait stops herald at once, not after the wait.
func Sleep(ctx context.Context, d time.Duration) bool { return sleep(ctx, d) }

// sleep waits d, or less when ctx ends first; it reports whether the whole wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
