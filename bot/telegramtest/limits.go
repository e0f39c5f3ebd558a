package telegramtest

import (
	"fmt"
	"net/http"
	"time"
)

// Limits are Telegram's flood limits on sending messages. A zero field is not
// enforced. Tests that push volume scale them up; the windows are sliding and keyed
// by the server's clock, so a scaled limit behaves like the real one, only faster.
type Limits struct {
	Global            int // messages per second over all chats (Telegram: 30)
	PerChatPerSecond  int // messages per second to one chat (Telegram: 1)
	PerGroupPerMinute int // messages per minute to one group or supergroup (Telegram: 20)
	// RetryAfter is the retry_after reported in a 429, in seconds. 0 computes it from
	// when the exceeded window frees up (at least 1, as Telegram never says 0).
	RetryAfter int
}

// DefaultLimits are Telegram's documented broadcast limits.
func DefaultLimits() *Limits {
	return &Limits{Global: 30, PerChatPerSecond: 1, PerGroupPerMinute: 20}
}

// window is a sliding window of send times, oldest first. Pruning drops a prefix,
// so each send is appended and removed once: O(1) amortised per send.
type window struct {
	times []time.Time
	head  int
}

func (w *window) prune(now time.Time, span time.Duration) {
	cut := now.Add(-span)
	for w.head < len(w.times) && !w.times[w.head].After(cut) {
		w.head++
	}
	if w.head > 64 && w.head*2 > len(w.times) {
		n := copy(w.times, w.times[w.head:])
		w.times = w.times[:n]
		w.head = 0
	}
}

func (w *window) count() int { return len(w.times) - w.head }

// freeIn says how long until the window holds fewer than limit entries.
func (w *window) freeIn(now time.Time, span time.Duration, limit int) time.Duration {
	over := w.count() - limit // entries that must expire, minus one
	if over < 0 {
		return 0
	}
	return w.times[w.head+over].Add(span).Sub(now)
}

type limiter struct {
	l       Limits
	global  window
	perChat map[int64]*window
	perGrp  map[int64]*window
}

func newLimiter(l Limits) *limiter {
	return &limiter{l: l, perChat: map[int64]*window{}, perGrp: map[int64]*window{}}
}

// admit records a send to chatID at now if every window has room, or says how many
// seconds to wait. Refused sends are not recorded, as with Telegram.
func (l *limiter) admit(chatID int64, group bool, now time.Time) (retryAfter int, ok bool) {
	type check struct {
		w     *window
		span  time.Duration
		limit int
	}
	var checks [3]check
	n := 0
	if l.l.Global > 0 {
		checks[n] = check{&l.global, time.Second, l.l.Global}
		n++
	}
	if l.l.PerChatPerSecond > 0 {
		checks[n] = check{windowFor(l.perChat, chatID), time.Second, l.l.PerChatPerSecond}
		n++
	}
	if group && l.l.PerGroupPerMinute > 0 {
		checks[n] = check{windowFor(l.perGrp, chatID), time.Minute, l.l.PerGroupPerMinute}
		n++
	}
	var wait time.Duration
	full := false
	for _, c := range checks[:n] {
		c.w.prune(now, c.span)
		if c.w.count() >= c.limit {
			full = true
			wait = max(wait, c.w.freeIn(now, c.span, c.limit))
		}
	}
	if full {
		if l.l.RetryAfter > 0 {
			return l.l.RetryAfter, false
		}
		secs := int((wait + time.Second - 1) / time.Second)
		return max(secs, 1), false
	}
	for _, c := range checks[:n] {
		c.w.times = append(c.w.times, now)
	}
	return 0, true
}

func windowFor(m map[int64]*window, id int64) *window {
	w, ok := m[id]
	if !ok {
		w = &window{}
		m[id] = w
	}
	return w
}

func tooManyRequests(retryAfter int) *apiError {
	return &apiError{
		Code:        http.StatusTooManyRequests,
		Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter),
		RetryAfter:  retryAfter,
	}
}
