package ci

import (
	"errors"
	"time"
)

// RetryAfterError is a CI's refusal that says when to ask again: a rate limit (GitHub's
// Retry-After, or its X-RateLimit-Reset). A Follower that gets one waits at least that long
// before it asks again, whatever its backoff says.
type RetryAfterError struct {
	Wait time.Duration // how long the CI asked herald to wait
	Err  error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter is how long err asks to wait, when its chain holds a RetryAfterError.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.Wait > 0 {
		return ra.Wait, true
	}
	return 0, false
}
