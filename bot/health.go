package bot

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// Health keeps when each part of herald last reached Telegram and whether that worked, so
// a readiness probe answers from what herald already saw instead of calling Telegram itself
// (a getMe per probe spends the bot's requests and only proves that one call works). Parts
// report as they go; it is safe for concurrent use. The zero value is not usable: NewHealth.
type Health struct {
	now   func() time.Time
	mu    sync.Mutex
	parts map[string]*contact
}

type contact struct {
	maxAge  time.Duration // a success older than this is stale; 0: never stale
	ok      time.Time     // last success
	failing bool          // the last report was a failure
	heard   bool          // anything reported
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
	h.get(part).maxAge = maxAge
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
	c.ok, c.failing, c.heard = h.now(), false, true
}

// Failed records that part could not reach Telegram (network error, 5xx).
func (h *Health) Failed(part string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.get(part)
	c.failing, c.heard = true, true
}

func (h *Health) get(part string) *contact {
	c, ok := h.parts[part]
	if !ok {
		c = &contact{}
		h.parts[part] = c
	}
	return c
}

// Check says whether every part that reported or was expected is in contact, and for each
// one that is not, why: "poller: no answer from Telegram since 12s". A part that never
// reported and was not expected (an idle sender) counts as fine.
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
		switch {
		case !c.heard:
			problems = append(problems, name+": no contact with Telegram yet")
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
