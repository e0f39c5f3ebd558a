package ci

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// OverviewCache is how a provider's Overviewer shares one Overview among every chat that
// asks: one fetch at a time, its answer reused for TTL, and, when the CI did not answer at all
// (NotAnswered), that failure answered for FailureTTL, so the chats asking meanwhile hear it
// at once instead of each waiting out its own timeout. The zero value is ready; set the
// fields before the first Get.
type OverviewCache struct {
	TTL        time.Duration    // how long an overview is reused; zero means DefaultOverviewTTL
	FailureTTL time.Duration    // zero means DefaultOverviewFailureTTL
	Now        func() time.Time // nil means time.Now

	once    sync.Once
	lock    chan struct{} // held while an overview is fetched or read
	ov      *Overview     // the last one fetched, under lock
	err     error         // the last fetch's error when the CI did not answer, under lock
	errTill time.Time     // err is answered until then
}

// DefaultOverviewTTL and DefaultOverviewFailureTTL are OverviewCache's defaults: long enough
// that a burst of commands costs the CI one fetch, short enough that /status is current.
const (
	DefaultOverviewTTL        = 10 * time.Second
	DefaultOverviewFailureTTL = 5 * time.Second
)

// Get returns the cached overview, or fetches one. A caller waiting for another's fetch gives
// up when its ctx ends (the error wraps ctx's).
func (c *OverviewCache) Get(ctx context.Context, fetch func(context.Context) (Overview, error)) (Overview, error) {
	c.once.Do(func() { c.lock = make(chan struct{}, 1) })
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return Overview{}, ctx.Err()
	}
	defer func() { <-c.lock }()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ttl, failTTL := c.TTL, c.FailureTTL
	if ttl <= 0 {
		ttl = DefaultOverviewTTL
	}
	if failTTL <= 0 {
		failTTL = DefaultOverviewFailureTTL
	}
	if c.ov != nil && now().Sub(c.ov.At) < ttl {
		return *c.ov, nil
	}
	if c.err != nil && now().Before(c.errTill) {
		return Overview{}, c.err
	}
	ov, err := fetch(ctx)
	if err != nil {
		if NotAnswered(err) {
			c.err, c.errTill = err, now().Add(failTTL)
		}
		return Overview{}, err
	}
	c.err = nil
	c.ov = &ov
	return ov, nil
}

// NotAnswered reports whether err says the CI did not answer: a deadline, or an error of the
// connection (which net/http reports as a *url.Error, a net.Error). A caller that gave up
// (context.Canceled) says nothing about the CI; an answer that was an error is one the CI
// gives quickly, so there is no wait to spare.
func NotAnswered(err error) bool {
	var ne net.Error
	return !errors.Is(err, context.Canceled) && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne))
}
