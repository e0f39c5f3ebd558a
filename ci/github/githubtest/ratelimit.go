package githubtest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// The documentation_url values of GitHub's rate-limit refusals; clients (go-github
// among them) tell a secondary limit from other 403s by this URL's fragment.
const (
	primaryLimitDocs   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
	secondaryLimitDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)

// rateWindow is the primary limit's hour: it starts with the first counted request.
type rateWindow struct {
	start time.Time
	used  int
}

type secondaryLimit struct {
	status     int
	retryAfter time.Duration
}

// rateHeaders are the x-ratelimit-* values of one answer.
type rateHeaders struct {
	limit, remaining, used int
	reset                  int64
}

func (rl rateHeaders) set(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(rl.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rl.remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(rl.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(rl.reset, 10))
	h.Set("X-RateLimit-Resource", "core")
}

// windowLocked rolls the window over once its hour has passed.
func (s *Server) windowLocked() {
	now := s.now()
	if s.limit.start.IsZero() || !now.Before(s.limit.start.Add(time.Hour)) {
		s.limit = rateWindow{start: now}
	}
}

// limitHeadersLocked counts a request (if count) and returns the headers to send.
func (s *Server) limitHeadersLocked(count bool) rateHeaders {
	s.windowLocked()
	if count && s.limit.used < s.opts.RateLimit {
		s.limit.used++
	}
	return rateHeaders{
		limit:     s.opts.RateLimit,
		remaining: s.opts.RateLimit - s.limit.used,
		used:      s.limit.used,
		reset:     s.limit.start.Add(time.Hour).Unix(),
	}
}

// primaryLimited answers 403 once the hour's requests are used up, as GitHub does
// (x-ratelimit-remaining: 0, and a reset time to wait for). GET /rate_limit stays free.
func (s *Server) primaryLimited(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet && r.URL.Path == "/rate_limit" {
		return false
	}
	s.mu.Lock()
	s.windowLocked()
	spent := s.limit.used >= s.opts.RateLimit
	if spent {
		s.stats.RateLimited++
	}
	s.mu.Unlock()
	if !spent {
		return false
	}
	s.fail(w, r, http.StatusForbidden, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.", primaryLimitDocs)
	return true
}

// Limit makes the next n API requests answer a secondary rate limit with status
// (403 or 429) and, when retryAfter > 0, a Retry-After header of that many seconds
// (rounded up).
func (s *Server) Limit(n int, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.secondary = append(s.secondary, secondaryLimit{status: status, retryAfter: retryAfter})
	}
}

func (s *Server) secondaryLimited(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	if len(s.secondary) == 0 {
		s.mu.Unlock()
		return false
	}
	l := s.secondary[0]
	s.secondary = s.secondary[1:]
	s.stats.RateLimited++
	s.mu.Unlock()
	if l.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(l.retryAfter.Seconds()))))
	}
	s.fail(w, r, l.status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", secondaryLimitDocs)
	return true
}

type rateResource struct {
	Limit     int   `json:"limit"`
	Used      int   `json:"used"`
	Remaining int   `json:"remaining"`
	Reset     int64 `json:"reset"`
}

// getRateLimit is GET /rate_limit; it does not count against the limit.
func (s *Server) getRateLimit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rl := s.limitHeadersLocked(false)
	s.mu.Unlock()
	core := rateResource{Limit: rl.limit, Used: rl.used, Remaining: rl.remaining, Reset: rl.reset}
	fresh := func(limit int) rateResource {
		return rateResource{Limit: limit, Remaining: limit, Reset: rl.reset}
	}
	s.ok(w, r, map[string]any{
		"resources": map[string]rateResource{
			"core":    core,
			"search":  fresh(30),
			"graphql": fresh(5000),
		},
		"rate": core,
	})
}

// httpDate is the timestamp format of GitHub's JSON.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func stampOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return stamp(t)
}
