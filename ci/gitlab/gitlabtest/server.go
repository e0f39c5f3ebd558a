package gitlabtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a fake GitLab.
type Options struct {
	// Token is the access token the API takes (PRIVATE-TOKEN or Authorization: Bearer).
	Token string
	// RateLimit is how many requests a minute the token may make; zero means 2000 (GitLab.com's
	// authenticated API limit).
	RateLimit int
	// WebhookURL receives the project hooks; empty records deliveries without sending them.
	WebhookURL string
	// WebhookToken is the hook's secret token, sent as X-Gitlab-Token; empty sends none.
	WebhookToken string
	// Clock is the fake's time; nil is the system clock.
	Clock func() time.Time
	// Logf, when set, is told every request and delivery.
	Logf func(format string, args ...any)
	// Role is the token's user's role on the projects: "reporter", "developer" or
	// "maintainer" (empty). GET /runners lists the runners of projects where it is
	// Maintainer or Owner, so it answers a lesser role an empty list.
	Role string
}

// Server is a fake GitLab. It is safe for concurrent use.
type Server struct {
	opts Options
	http *http.Server
	ln   net.Listener
	url  string

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change, for WaitFor
	nextID    int64
	projects  []*project
	pipelines []*pipeline
	runners   []Runner
	user      User // the token's owner: who creates, retries and cancels over the API

	window   time.Time // start of the rate limit's minute
	observed int       // requests in it
	throttle int       // the next requests answered 429 at once
	requests int
	hook     *hooks
	closed   bool
}

// New starts a fake GitLab on a free port of 127.0.0.1.
func New(opts Options) (*Server, error) { return NewOn("127.0.0.1:0", opts) }

// NewOn starts a fake GitLab on addr.
func NewOn(addr string, opts Options) (*Server, error) {
	if opts.RateLimit <= 0 {
		opts.RateLimit = 2000
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gitlabtest: listen: %w", err)
	}
	s := &Server{
		opts: opts, ln: ln, url: "http://" + ln.Addr().String(), changed: make(chan struct{}), nextID: 1000,
		user: User{ID: 1, Username: "herald-bot", Name: "Herald Bot"},
	}
	s.hook = newHooks(s)
	s.http = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// URL is the instance's URL (the API is under /api/v4).
func (s *Server) URL() string { return s.url }

// Close stops the server and the deliveries.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.hook.close()
	_ = s.http.Close()
}

// WaitFor waits until cond (called without the fake's lock) holds or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("gitlabtest: wait: %w", ctx.Err())
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Requests is how many API requests the fake has answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Throttle answers the next n API requests 429, as a rate limit that is used up does.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// SetUser sets the token's owner: who creates, retries and cancels pipelines over the API.
func (s *Server) SetUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user = u
}

func (s *Server) newIDLocked() int64 {
	s.nextID++
	return s.nextID
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// apiTime is how the API writes a time: ISO 8601 in UTC with milliseconds.
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func apiTimePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := apiTime(t)
	return &v
}

// serve answers one API request: the rate limit first, then the token, then the route.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.logf("gitlabtest: %s %s", r.Method, r.URL.RequestURI())
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, "/api/v4/") {
		s.answer(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		return
	}
	s.mu.Lock()
	s.requests++
	limited := s.rateLimitLocked(w)
	s.mu.Unlock()
	if limited {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("Retry later\n"))
		return
	}
	if !s.authorized(r) {
		s.answer(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	var segs []string
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/api/v4/"), "/") {
		u, err := url.PathUnescape(seg)
		if err != nil {
			s.answer(w, http.StatusBadRequest, map[string]string{"error": "invalid path"})
			return
		}
		segs = append(segs, u)
	}
	s.route(w, r, segs)
}

// rateLimitLocked sets the RateLimit-* headers GitLab documents and says whether the
// request is refused (429, with Retry-After).
func (s *Server) rateLimitLocked(w http.ResponseWriter) bool {
	now := s.opts.Clock()
	if now.Sub(s.window) >= time.Minute || now.Before(s.window) {
		s.window, s.observed = now.Truncate(time.Minute), 0
	}
	s.observed++
	reset := s.window.Add(time.Minute)
	limited := s.observed > s.opts.RateLimit
	if s.throttle > 0 {
		s.throttle--
		limited = true
	}
	h := w.Header()
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	h.Set("RateLimit-Observed", strconv.Itoa(s.observed))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(s.opts.RateLimit-s.observed, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
	if limited {
		h.Set("Retry-After", strconv.Itoa(max(int(reset.Sub(now).Seconds()+0.5), 1)))
	}
	return limited
}

// authorized checks PRIVATE-TOKEN, then Authorization: Bearer.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return false
	}
	if t := r.Header.Get("PRIVATE-TOKEN"); t != "" {
		return t == s.opts.Token
	}
	scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && t == s.opts.Token
}

// answer writes v as JSON with status.
func (s *Server) answer(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// notFound is GitLab's 404 for a kind of object: "404 Project Not Found".
func (s *Server) notFound(w http.ResponseWriter, what string) {
	msg := "404 Not found"
	if what != "" {
		msg = "404 " + what + " Not Found"
	}
	s.answer(w, http.StatusNotFound, map[string]string{"message": msg})
}

// pageOf is a list request's per_page (default 20, at most 100) and page (from 1).
type pageOf struct{ perPage, number int }

func readPage(r *http.Request) pageOf {
	p := pageOf{perPage: 20, number: 1}
	q := r.URL.Query()
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		p.perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		p.number = v
	}
	return p
}

// list answers one page of n items, items[from:to] rendered by item, with GitLab's
// pagination headers.
func (s *Server) list(w http.ResponseWriter, r *http.Request, n int, item func(i int) any) {
	p := readPage(r)
	from := min((p.number-1)*p.perPage, n)
	to := min(from+p.perPage, n)
	totalPages := max(1, (n+p.perPage-1)/p.perPage)
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(p.number))
	h.Set("X-Per-Page", strconv.Itoa(p.perPage))
	h.Set("X-Total", strconv.Itoa(n))
	h.Set("X-Total-Pages", strconv.Itoa(totalPages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	if p.number < totalPages {
		h.Set("X-Next-Page", strconv.Itoa(p.number+1))
	}
	if p.number > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(min(p.number-1, totalPages)))
	}
	var links []string
	link := func(number int, rel string) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(number))
		q.Set("per_page", strconv.Itoa(p.perPage))
		links = append(links, fmt.Sprintf("<%s%s?%s>; rel=%q", s.url, r.URL.EscapedPath(), q.Encode(), rel))
	}
	if p.number > 1 {
		link(min(p.number-1, totalPages), "prev")
	}
	if p.number < totalPages {
		link(p.number+1, "next")
	}
	link(1, "first")
	link(totalPages, "last")
	h.Set("Link", strings.Join(links, ", "))
	out := make([]any, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, item(i))
	}
	s.answer(w, http.StatusOK, out)
}
