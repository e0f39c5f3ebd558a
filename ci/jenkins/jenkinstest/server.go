package jenkinstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options configure a fake Jenkins.
type Options struct {
	// Username and Token are the user and its API token accepted as Basic authorization.
	// Empty Username: security is off and anonymous requests may do anything.
	Username, Token string
	// CSRF turns the crumb issuer on: every POST then needs the crumb issued to its
	// session (the JSESSIONID cookie), or is answered 403.
	CSRF bool
	// NotifyURL is where the Notification plugin's posts go (user info in it becomes Basic
	// authorization, as the plugin does); empty: posts are recorded but not sent.
	NotifyURL string
	// AutoStart starts a queued build at once, as a Jenkins with a free executor does;
	// without it a build waits in the queue until Start.
	AutoStart bool
	// Now is the clock for time stamps; default time.Now.
	Now func() time.Time
	// Log receives one line per request; it never sees a token or the crumb.
	Log io.Writer
}

// Server is an in-process fake of Jenkins' remote access API (the parts herald uses) and of
// the Notification plugin. It is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time
	ln   net.Listener
	http *http.Server
	root string // ends in /

	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	hookWake  chan struct{}
	hookHTTP  *http.Client

	mu        sync.Mutex
	changed   chan struct{}
	top       *node // the root folder
	queue     map[int64]*queueItem
	nextQueue int64
	nodes     []*Node
	sessions  map[string]string // JSESSIONID → crumb
	posts     []Post
	requests  []string
	notes     []*Notification
	noteQueue []*Notification
	dropNext  int
}

// Post is a POST the fake accepted: what it asked for.
type Post struct {
	Path string     // below the root, e.g. job/app/job/main/buildWithParameters
	Form url.Values // its form (query and body)
}

// New starts a fake Jenkins on 127.0.0.1 with a free port.
func New(opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("jenkinstest: listen: %w", err)
	}
	s := &Server{
		opts: opts, now: opts.Now, ln: ln,
		root:     "http://" + ln.Addr().String() + "/",
		closed:   make(chan struct{}),
		hookWake: make(chan struct{}, 1),
		hookHTTP: &http.Client{Timeout: 10 * time.Second},
		changed:  make(chan struct{}),
		top:      &node{kind: kindFolder},
		queue:    map[int64]*queueItem{},
		sessions: map[string]string{},
		nodes:    []*Node{{Name: "Built-In Node", Executors: 2, Idle: true}},
	}
	s.http = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); _ = s.http.Serve(ln) }()
	go func() { defer s.wg.Done(); s.deliverLoop() }()
	return s, nil
}

// URL is the fake's root, ending in /.
func (s *Server) URL() string { return s.root }

// Close stops the server and the notifications.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.http.Shutdown(ctx)
		s.wg.Wait()
	})
}

// Posts lists the POSTs accepted, in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// WaitFor waits until cond (called under no lock) holds, rechecking after every change of
// the fake's state, or ctx ends.
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
			return ctx.Err()
		}
	}
}

// changedLocked wakes WaitFor; s.mu is held.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Log != nil {
		fmt.Fprintf(s.opts.Log, "jenkinstest: "+format+"\n", args...)
	}
}

// jettyError answers as Jenkins' Jetty does: the status and an HTML page whose title and
// heading carry the message.
func jettyError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html;charset=iso-8859-1")
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	w.WriteHeader(status)
	m := html.EscapeString(msg)
	fmt.Fprintf(w, "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n"+
		"<title>Error %d %s</title>\n</head>\n<body><h2>HTTP ERROR %d %s</h2>\n</body>\n</html>\n", status, m, status, m)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate checks Basic authorization: a wrong one is 401 with WWW-Authenticate, none
// on a secured Jenkins is 403 for anonymous.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.Username == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("X-You-Are-Authenticated-As", "anonymous")
		w.Header().Set("X-Required-Permission", "hudson.model.Hudson.Read")
		jettyError(w, http.StatusForbidden, "Authentication required")
		return false
	}
	if user != s.opts.Username || pass != s.opts.Token {
		w.Header().Set("WWW-Authenticate", `Basic realm="Jenkins"`)
		jettyError(w, http.StatusUnauthorized, "Invalid password/token for user: "+user)
		return false
	}
	return true
}

// session is the request's JSESSIONID, made (and set as a cookie) when it has none.
func (s *Server) sessionLocked(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie("JSESSIONID"); err == nil {
		if _, ok := s.sessions[c.Value]; ok {
			return c.Value
		}
	}
	id := randomHex(16)
	s.sessions[id] = ""
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: id, Path: "/", HttpOnly: true})
	return id
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkCrumb refuses a POST without the crumb of its session, as Jenkins' CSRF filter does.
func (s *Server) checkCrumbLocked(w http.ResponseWriter, r *http.Request) bool {
	if !s.opts.CSRF {
		return true
	}
	got := r.Header.Get("Jenkins-Crumb")
	if got == "" {
		got = r.FormValue("Jenkins-Crumb")
	}
	c, err := r.Cookie("JSESSIONID")
	if err != nil || got == "" || s.sessions[c.Value] == "" || s.sessions[c.Value] != got {
		jettyError(w, http.StatusForbidden, "No valid crumb was included in the request")
		return false
	}
	return true
}

// ExpireSessions forgets every web session, so the crumbs issued no longer hold (a
// restarted Jenkins).
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]string{}
}

// Requests lists every request answered, as "METHOD path" (below the root, without the
// query), in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.logf("%s %s", r.Method, r.URL.Path)
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+strings.TrimPrefix(r.URL.EscapedPath(), "/"))
	s.mu.Unlock()
	if !s.authenticate(w, r) {
		return
	}
	var segs []string
	for _, seg := range strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			jettyError(w, http.StatusBadRequest, "Bad path")
			return
		}
		segs = append(segs, dec)
	}
	tree := r.URL.Query().Get("tree")
	var spec []treeNode
	if tree != "" {
		var err error
		if spec, err = parseTree(tree); err != nil {
			jettyError(w, http.StatusBadRequest, "Bad tree: "+err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	get := func(v map[string]any) {
		if r.Method != http.MethodGet {
			jettyError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		if spec != nil {
			writeJSON(w, filterTree(v, spec))
			return
		}
		writeJSON(w, v)
	}
	switch {
	case len(segs) == 2 && segs[0] == "api" && segs[1] == "json":
		get(s.rootJSONLocked(spec == nil))
		return
	case len(segs) == 3 && segs[0] == "crumbIssuer" && segs[1] == "api" && segs[2] == "json":
		if !s.opts.CSRF {
			jettyError(w, http.StatusNotFound, "Not Found")
			return
		}
		sid := s.sessionLocked(w, r)
		if s.sessions[sid] == "" {
			s.sessions[sid] = randomHex(32)
		}
		get(map[string]any{"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": s.sessions[sid], "crumbRequestField": "Jenkins-Crumb"})
		return
	case len(segs) == 3 && segs[0] == "computer" && segs[1] == "api" && segs[2] == "json":
		get(s.computersJSONLocked())
		return
	case len(segs) == 5 && segs[0] == "queue" && segs[1] == "item" && segs[3] == "api" && segs[4] == "json":
		q, ok := s.queue[parseInt(segs[2])]
		if !ok {
			jettyError(w, http.StatusNotFound, "Not Found")
			return
		}
		get(s.queueItemJSONLocked(q))
		return
	case len(segs) >= 2 && segs[0] == "job":
	default:
		jettyError(w, http.StatusNotFound, "Not Found")
		return
	}
	n := s.top
	i := 0
	for ; i+1 < len(segs) && segs[i] == "job"; i += 2 {
		if n = n.child(segs[i+1]); n == nil {
			jettyError(w, http.StatusNotFound, "Not Found")
			return
		}
	}
	rest := segs[i:]
	switch {
	case len(rest) == 2 && rest[0] == "api" && rest[1] == "json":
		get(s.jobJSONLocked(n, spec == nil))
	case len(rest) == 1 && (rest[0] == "build" || rest[0] == "buildWithParameters"):
		s.buildRequestLocked(w, r, n, rest[0], segs[:i])
	case len(rest) >= 2 && isNumber(rest[0]) && n.isJob():
		b := n.build(parseInt(rest[0]))
		if b == nil {
			jettyError(w, http.StatusNotFound, "Not Found")
			return
		}
		switch {
		case len(rest) == 3 && rest[1] == "api" && rest[2] == "json":
			get(s.buildJSONLocked(b))
		case len(rest) == 3 && rest[1] == "wfapi" && rest[2] == "describe" && n.kind == kindPipeline && !b.noStages:
			get(s.describeJSONLocked(b))
		case len(rest) == 2 && rest[1] == "stop":
			s.stopLocked(w, r, b)
		default:
			jettyError(w, http.StatusNotFound, "Not Found")
		}
	default:
		jettyError(w, http.StatusNotFound, "Not Found")
	}
}

// buildRequestLocked is build and buildWithParameters: 201 with the queue item's URL.
func (s *Server) buildRequestLocked(w http.ResponseWriter, r *http.Request, n *node, endpoint string, jobSegs []string) {
	if r.Method != http.MethodPost {
		jettyError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !s.checkCrumbLocked(w, r) {
		return
	}
	if !n.isJob() || n.disabled {
		jettyError(w, http.StatusConflict, n.fullName()+" is not buildable")
		return
	}
	if err := r.ParseForm(); err != nil {
		jettyError(w, http.StatusBadRequest, "Bad form")
		return
	}
	params := map[string]string{}
	switch {
	case endpoint == "buildWithParameters" && len(n.params) == 0:
		jettyError(w, http.StatusBadRequest, n.fullName()+" is not parameterized")
		return
	case endpoint == "build" && len(n.params) > 0:
		jettyError(w, http.StatusBadRequest, "This page expects a form submission")
		return
	}
	for _, d := range n.params {
		v := d.Default
		if got, ok := r.Form[d.Name]; ok && len(got) > 0 {
			v = got[0]
		}
		switch d.Type {
		case ParamChoice:
			if !contains(d.Choices, v) {
				jettyError(w, http.StatusBadRequest, fmt.Sprintf("Illegal choice for parameter %s: %s", d.Name, v))
				return
			}
		case ParamBoolean:
			v = fmt.Sprint(v == "true" || v == "on")
		}
		params[d.Name] = v
	}
	s.posts = append(s.posts, Post{Path: strings.Join(append(escapeAll(jobSegs), endpoint), "/"), Form: r.Form})
	if n.veto {
		http.Redirect(w, r, s.root+n.path(), http.StatusFound)
		return
	}
	q := s.enqueueLocked(n, Trigger{Cause: UserCause(s.userLocked()), Params: params})
	w.Header().Set("Location", fmt.Sprintf("%squeue/item/%d/", s.root, q.id))
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) userLocked() string {
	if s.opts.Username == "" {
		return "anonymous"
	}
	return s.opts.Username
}

// stopLocked aborts a running build; Jenkins answers with a redirect to the build's page.
func (s *Server) stopLocked(w http.ResponseWriter, r *http.Request, b *build) {
	if r.Method != http.MethodPost {
		jettyError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !s.checkCrumbLocked(w, r) {
		return
	}
	s.posts = append(s.posts, Post{Path: strings.TrimPrefix(b.url(s.root), s.root) + "stop", Form: url.Values{}})
	if b.building {
		s.finishLocked(b, "ABORTED")
	}
	w.Header().Set("Location", b.url(s.root))
	w.WriteHeader(http.StatusFound)
}

func escapeAll(segs []string) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		out[i] = url.PathEscape(s)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func isNumber(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func parseInt(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// contextUntil is a context that ends when done closes or after d.
func contextUntil(done <-chan struct{}, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
