package bot

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Health keeps when each part of herald last reached Telegram and whether that worked, so
// a readiness probe answers from what herald already saw instead of calling Telegram itself
// (a getMe per probe spends the bot's requests and only proves that one call works), and
// whether the parts that read their state from the database at start got past that: a part
// stuck retrying its start-up reads does nothing, and herald is not ready while it is. Parts
// report as they go; it is safe for concurrent use. The zero value is not usable: NewHealth.
type Health struct {
	now   func() time.Time
	mu    sync.Mutex
	parts map[string]*contact
}

type contact struct {
	expected bool          // Expect: not ready before the first contact with Telegram
	maxAge   time.Duration // a success older than this is stale; 0: never stale
	ok       time.Time     // last success
	failing  bool          // the last report was a failure
	heard    bool          // anything reported
	starting bool          // ExpectStart: not ready before Started
	started  bool
	reason   string // FailedBecause: why the part cannot work although Telegram answers
}

// NewHealth makes an empty Health; clock nil means time.Now.
func NewHealth(clock func() time.Time) *Health {
	if clock == nil {
		clock = time.Now
	}
	return &Health{now: clock, parts: map[string]*contact{}}
}

// Expect names a part the probe waits for. Until the part's first success it is not ready;
// with maxAge > 0 a success older than that is not ready either (the part stopped talking
// to Telegram, e.g. a poller whose long polls return at least every poll timeout).
func (h *Health) Expect(part string, maxAge time.Duration) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.get(part)
	c.expected, c.maxAge = true, maxAge
}

// ExpectStart names a part that is not ready until it says Started: its start-up reads
// (state from the database) succeeded. It need not talk to Telegram at all.
func (h *Health) ExpectStart(part string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(part).starting = true
}

// Started records that part finished its start-up reads.
func (h *Health) Started(part string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(part).started = true
}

// OK records that part reached Telegram and Telegram answered (even with a refusal such as
// 429 or 403: Telegram is there).
func (h *Health) OK(part string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.get(part)
	c.ok, c.failing, c.heard, c.reason = h.now(), false, true, ""
}

// Failed records that part could not reach Telegram (network error, 5xx).
func (h *Health) Failed(part string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.get(part)
	c.failing, c.heard, c.reason = true, true, ""
}

// FailedBecause records that part reaches Telegram but cannot do its work, and why (a
// getUpdates conflict that persists): the probe says "part: reason" until the next OK.
func (h *Health) FailedBecause(part, reason string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.get(part)
	c.failing, c.heard, c.reason = true, true, reason
}

// Forget drops a part: it no longer runs in this process (another replica took its role),
// so what it last saw says nothing about this process's readiness.
func (h *Health) Forget(part string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.parts, part)
}

func (h *Health) get(part string) *contact {
	c, ok := h.parts[part]
	if !ok {
		c = &contact{}
		h.parts[part] = c
	}
	return c
}

// Check says whether every part that reported or was expected is in contact and every part
// expected to start has, and for each one that is not, why: "poller: no answer from Telegram
// since 12s", "intake: start-up reads not done yet". A part whose contact with Telegram was
// not expected and that never reported (an idle sender) is in contact as far as it knows.
func (h *Health) Check() (ready bool, problems []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	names := make([]string, 0, len(h.parts))
	for name := range h.parts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := h.parts[name]
		if c.starting && !c.started {
			problems = append(problems, name+": start-up reads not done yet (is the database there?)")
			continue
		}
		switch {
		case !c.heard && !c.expected:
		case !c.heard:
			problems = append(problems, name+": no contact with Telegram yet")
		case c.reason != "":
			problems = append(problems, name+": "+c.reason)
		case c.failing:
			last := "never"
			if !c.ok.IsZero() {
				last = now.Sub(c.ok).Round(time.Second).String() + " ago"
			}
			problems = append(problems, fmt.Sprintf("%s: cannot reach Telegram (last success: %s)", name, last))
		case c.maxAge > 0 && now.Sub(c.ok) > c.maxAge:
			problems = append(problems, fmt.Sprintf("%s: no answer from Telegram for %s", name, now.Sub(c.ok).Round(time.Second)))
		}
	}
	return len(problems) == 0, problems
}
