package buildbot

import (
	"context"
	"time"

	"github.com/herald-ci/herald/ci"
)

// Watch follows the master with a ci.Follower until ctx ends or sink stops it. It is left
// for callers of the old contract while they move to ci.Follower.
func (p *Provider) Watch(ctx context.Context, since time.Time, sink ci.EventSink) error {
	return ci.NewFollower(p, sink, since, ci.FollowOptions{Report: func(err error, retryIn time.Duration) {
		p.log.Warn().Err(err).Dur("retry_in", retryIn).Msg("buildbot watch disconnected")
	}}).Run(ctx)
}
