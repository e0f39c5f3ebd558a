package githubtest

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a fake GitHub.
type Options struct {
	// Prefix is where the REST API lives: "" for github.com (the API at the root of
	// api.github.com) or "/api/v3" for GitHub Enterprise Server.
	Prefix string
	// Token is the bearer token accepted, sent as "Authorization: Bearer X" or "token X".
	Token string
	// App, if set, is a GitHub App whose installation tokens are accepted too.
	App *App
	// WebhookURL is where signed deliveries are posted; empty: deliveries are recorded
	// (Deliveries) but not sent.
	WebhookURL string
	// WebhookSecret is the key of the deliveries' HMAC signatures.
	WebhookSecret string
	// RateLimit is the primary limit per hour; default 5000, as for a user token.
	RateLimit int
	// Now is the clock for timestamps and the rate-limit window; default time.Now.
	Now func() time.Time
	// Log receives one line per API request and per delivery. It never sees a token or
	// the webhook secret.
	Log io.Writer
	// CancelDelay is how long a run whose cancel was accepted (202) stays as it was before
	// it completes as cancelled, as GitHub's runs take a moment to stop; default 100ms.
	// SettleCancels completes them at once.
	CancelDelay time.Duration
	// OnDelivery, if set, is called (outside the server's lock, from the delivering
	// goroutine) with every delivery once it is done: answered, failed or dropped.
	// cmd/fake-github prints them.
	OnDelivery func(Delivery)
}

// App is a GitHub App installed on the fake's repositories. Requests signed with its
// private key (an RS256 JWT) may create installation access tokens.
type App struct {
	AppID          int64
	InstallationID int64
	PublicKey      *rsa.PublicKey
}

// Stats counts what the server answered.
type Stats struct {
	Total       int            // API requests answered, all statuses
	NotModified int            // 304s answered to a matching If-None-Match
	RateLimited int            // primary (403, remaining 0) and secondary (Limit) refusals
	ByRoute     map[string]int // requests per route pattern, e.g. "GET /repos/{owner}/{repo}/actions/runs"
}

// Server is an in-process fake of GitHub's REST API (the parts herald uses) and of its
// webhooks. It is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	ln   net.Listener
	http *http.Server
	url  string
	mux  *http.ServeMux

	hookClient *http.Client
	hookWake   chan struct{} // a delivery was queued
	closed     chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
	logMu      sync.Mutex

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change (WaitFor)

	repos  []*repo // in AddRepo order
	nextID map[string]int64

	runs       map[int64]*run
	runOrder   []*run // creation order
	dispatches []Dispatch
	cancels    []int64
	reruns     []int64
	autoplay   *AutoPlay

	appTokens map[string]time.Time // installation token → expiry

	limit      rateWindow
	secondary  []secondaryLimit
	deliveries []*Delivery
	hookQueue  []*Delivery
	dropNext   int

	stats Stats
}

// New starts a fake GitHub on 127.0.0.1 with a free port.
func New(opts Options) (*Server, error) {
	return NewOn("127.0.0.1:0", opts)
}

// NewOn starts a fake GitHub on addr (cmd/fake-github uses a fixed address).
func NewOn(addr string, opts Options) (*Server, error) {
	if opts.Token == "" && opts.App == nil {
		return nil, errors.New("githubtest: Options.Token or Options.App is required")
	}
	if opts.Prefix != "" && (!strings.HasPrefix(opts.Prefix, "/") || strings.HasSuffix(opts.Prefix, "/")) {
		return nil, fmt.Errorf("githubtest: Prefix %q must start with / and not end with one", opts.Prefix)
	}
	if opts.App != nil && opts.App.PublicKey == nil {
		return nil, errors.New("githubtest: App.PublicKey is required")
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CancelDelay <= 0 {
		opts.CancelDelay = 100 * time.Millisecond
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("githubtest: listen on %s: %w", addr, err)
	}
	s := &Server{
		opts:       opts,
		now:        opts.Now,
		ln:         ln,
		hookClient: &http.Client{Timeout: 10 * time.Second},
		hookWake:   make(chan struct{}, 1),
		closed:     make(chan struct{}),
		changed:    make(chan struct{}),
		nextID:     map[string]int64{},
		runs:       map[int64]*run{},
		appTokens:  map[string]time.Time{},
		stats:      Stats{ByRoute: map[string]int{}},
	}
	s.url = "http://" + ln.Addr().String() + opts.Prefix
	s.mux = s.routes()
	s.http = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(ln) // http.ErrServerClosed on Close
	}()
	go func() {
		defer s.wg.Done()
		s.deliverLoop()
	}()
	return s, nil
}

// URL is the API root to give a client, including Prefix, without a trailing slash.
func (s *Server) URL() string { return s.url }

// Close stops the server and its delivery goroutine and waits for them. Auto-played
// runs stop where they are.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock() // autoPlayLocked adds to s.wg only while open, under s.mu
		close(s.closed)
		s.mu.Unlock()
		_ = s.http.Close()
		s.wg.Wait()
	})
}

// WaitFor returns once cond reports true, re-checking it after every change of the
// server's state (a request answered, a delivery sent, a run moved), or the context's
// error. cond runs without the server's lock, so it may call the server's methods.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("githubtest: wait: %w", ctx.Err())
		case <-s.closed:
			return errors.New("githubtest: server closed")
		}
	}
}

// notifyLocked wakes WaitFor. Callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByRoute = make(map[string]int, len(s.stats.ByRoute))
	for k, v := range s.stats.ByRoute {
		st.ByRoute[k] = v
	}
	return st
}

// newIDLocked hands out increasing ids per kind of object, each kind from its own
// base, so ids of different kinds do not collide by accident in a test.
func (s *Server) newIDLocked(kind string) int64 {
	base := map[string]int64{"repo": 1296269, "workflow": 161335, "run": 30433642, "job": 399444496,
		"suite": 414944374, "runner": 23, "user": 583231}[kind]
	s.nextID[kind]++
	return base + s.nextID[kind] - 1
}

// docsURL is the documentation_url of error bodies.
const docsURL = "https://docs.github.com/rest"

// apiError is the body of every failure GitHub's REST API answers.
type apiError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

// serve is the outer handler: prefix, credentials, limits, then the routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.opts.Prefix)
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		s.fail(w, r, http.StatusNotFound, "Not Found", docsURL)
		return
	}
	if rest == "" {
		rest = "/"
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = rest
	r2.URL.RawPath = ""
	if !strings.HasPrefix(rest, "/app/") && !s.authorized(r) {
		s.fail(w, r2, http.StatusUnauthorized, "Bad credentials", docsURL)
		return
	}
	if s.secondaryLimited(w, r2) || s.primaryLimited(w, r2) {
		return
	}
	s.mux.ServeHTTP(w, r2)
}

// credential is what follows "Bearer " or "token " in the Authorization header.
func credential(r *http.Request) string {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "bearer ", "token ", "Token "} {
		if v, ok := strings.CutPrefix(h, scheme); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// authorized reports whether r carries the token or a live installation token.
func (s *Server) authorized(r *http.Request) bool {
	c := credential(r)
	if c == "" {
		return false
	}
	if s.opts.Token != "" && c == s.opts.Token {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.appTokens[c]
	return ok && s.now().Before(exp)
}

// ok answers 200 with v as JSON, or 304 when the client's If-None-Match names the
// same representation.
func (s *Server) ok(w http.ResponseWriter, r *http.Request, v any) {
	s.answer(w, r, http.StatusOK, v)
}

// fail answers status with GitHub's error body.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, message, docs string) {
	s.answer(w, r, status, apiError{Message: message, DocumentationURL: docs, Status: fmt.Sprint(status)})
}

// answer writes a JSON answer (v nil: no body) with the headers every answer has:
// rate-limit counters, and an ETag on a 200 to a GET.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int, v any) {
	var body []byte
	if v != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			status, body = http.StatusInternalServerError, []byte(`{"message":"Server Error"}`)
		} else {
			body = buf.Bytes()
		}
	}
	h := w.Header()
	if status == http.StatusOK && r.Method == http.MethodGet {
		sum := sha256.Sum256(body)
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		h.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			status, body = http.StatusNotModified, nil
		}
	}
	s.mu.Lock()
	s.stats.Total++
	route := r.Pattern
	if route == "" {
		route = "-"
	}
	s.stats.ByRoute[route]++
	if status == http.StatusNotModified {
		s.stats.NotModified++
	}
	// GitHub counts authorized requests; a 304 to an authorized request and
	// GET /rate_limit are free.
	counts := status != http.StatusUnauthorized && status != http.StatusNotModified && route != "GET /rate_limit"
	rl := s.limitHeadersLocked(counts)
	s.notifyLocked()
	s.mu.Unlock()
	rl.set(h)
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Request-Id", fmt.Sprintf("F00D:%X", s.now().UnixNano()&0xFFFFFF))
	if body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(status)
	if body != nil {
		_, _ = w.Write(body)
	}
	s.logf("githubtest: %s %s%s status=%d", r.Method, s.opts.Prefix, r.URL.Path, status)
}

// etagMatches compares If-None-Match (possibly a list, possibly "*") with etag,
// weakly, as RFC 9110 says for If-None-Match.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// logf writes one line to Options.Log. Lines carry methods, paths and statuses only:
// credentials travel in headers, which are never logged.
func (s *Server) logf(format string, args ...any) {
	if s.opts.Log == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = fmt.Fprintf(s.opts.Log, format+"\n", args...)
}

// notFound is the answer for an unknown route or object.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, "Not Found", docsURL)
}

// decodeBody reads a JSON request body into v; a body that is not JSON answers 400
// "Problems parsing JSON", as GitHub does.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(bytes.TrimSpace(data)) == 0 {
		return true
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, "Problems parsing JSON", docsURL)
		return false
	}
	return true
}
