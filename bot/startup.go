package bot

import (
	"context"

	"github.com/rs/zerolog"
)

// retryStart runs read until it works or ctx ends, backing off between tries. The long-running
// parts read their state from the database when they start; giving up on the first error
// would end the part for good in a herald that otherwise looks healthy (a database that
// restarts, a failover), so a start-up read waits for the database instead. It returns
// ctx's error when ctx ended first.
func retryStart(ctx context.Context, log zerolog.Logger, what string, read func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := read(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := backoff(retryMin, retryMax, attempt)
		log.Error().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("cannot " + what + " at start; retrying")
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}
