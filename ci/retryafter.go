package ci

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
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

// ParseRetryAfter reads an HTTP Retry-After value, seconds or an HTTP date, as the time left
// from now; ok is false when v is empty or neither. A date in the past is no wait (0, true).
func ParseRetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
