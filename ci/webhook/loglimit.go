package webhook

import (
	"sync"
	"time"
)

// LogLimiter lets one log line through per interval and counts the ones it held back. Every
// webhook endpoint of herald's (Telegram's and each CI's) logs refused requests through one:
// a stranger sending requests without the secret must not be able to fill the log.
type LogLimiter struct {
	mu         sync.Mutex
	every      time.Duration
	now        func() time.Time
	last       time.Time
	suppressed int
}

// NewLogLimiter lets a line through every interval; now nil means time.Now.
func NewLogLimiter(every time.Duration, now func() time.Time) *LogLimiter {
	if now == nil {
		now = time.Now
	}
	return &LogLimiter{every: every, now: now}
}

// Allow reports whether to write the line now, and how many were held back before it.
func (l *LogLimiter) Allow() (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return 0, false
	}
	suppressed, l.suppressed, l.last = l.suppressed, 0, now
	return suppressed, true
}
