package github

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// etagServer answers GETs with a body per path and an ETag of its version, and 304 to a
// matching If-None-Match, as GitHub does; it records the If-None-Match it was sent.
type etagServer struct {
	mu     sync.Mutex
	bodies map[string]string
	noTag  map[string]bool
	sent   []string // "path If-None-Match" per request
}

func (s *etagServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inm := r.Header.Get("If-None-Match")
	s.sent = append(s.sent, r.URL.Path+" "+inm)
	body, ok := s.bodies[r.URL.Path]
	if !ok {
		body = "body of " + r.URL.Path
	}
	etag := fmt.Sprintf(`"%x"`, len(body)*31+int(body[len(body)-1]))
	w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(5000-len(s.sent)))
	if !s.noTag[r.URL.Path] {
		w.Header().Set("ETag", etag)
	}
	if r.Method == http.MethodGet && inm == etag && !s.noTag[r.URL.Path] {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

func (s *etagServer) lastSent() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[len(s.sent)-1]
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestConditionalRequests(t *testing.T) {
	es := &etagServer{bodies: map[string]string{"/runs": "first"}, noTag: map[string]bool{"/untagged": true}}
	srv := httptest.NewServer(es)
	defer srv.Close()
	cond := newConditional(srv.Client().Transport)
	c := &http.Client{Transport: cond}

	resp, body := get(t, c, srv.URL+"/runs")
	if resp.StatusCode != 200 || body != "first" || es.lastSent() != "/runs " {
		t.Fatalf("first GET: %d %q, sent %q", resp.StatusCode, body, es.lastSent())
	}
	etag := resp.Header.Get("ETag")
	resp, body = get(t, c, srv.URL+"/runs")
	if es.lastSent() != "/runs "+etag {
		t.Errorf("second GET sent %q, want the ETag %s", es.lastSent(), etag)
	}
	if resp.StatusCode != 200 || body != "first" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("a 304 answered %d %q (%v), want the remembered 200", resp.StatusCode, body, resp.Header)
	}
	if got := resp.Header.Get("X-RateLimit-Remaining"); got != "4998" {
		t.Errorf("rate-limit header %q, want the 304's 4998", got)
	}
	if st := cond.Stats(); st.Asked != 1 || st.NotModified != 1 {
		t.Errorf("stats %+v, want 1 asked, 1 not modified", st)
	}

	es.mu.Lock()
	es.bodies["/runs"] = "second!"
	es.mu.Unlock()
	if _, body = get(t, c, srv.URL+"/runs"); body != "second!" {
		t.Errorf("after a change: %q, want the new body", body)
	}
	resp, body = get(t, c, srv.URL+"/runs")
	if body != "second!" || es.lastSent() != "/runs "+resp.Header.Get("ETag") {
		t.Errorf("after a change the new ETag is sent: got %q, sent %q", body, es.lastSent())
	}

	// Other methods and answers without an ETag are not remembered.
	if _, err := c.Post(srv.URL+"/runs", "application/json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	if es.lastSent() != "/runs " {
		t.Errorf("a POST sent %q, want no If-None-Match", es.lastSent())
	}
	get(t, c, srv.URL+"/untagged")
	get(t, c, srv.URL+"/untagged")
	if es.lastSent() != "/untagged " {
		t.Errorf("an untagged answer was remembered: sent %q", es.lastSent())
	}
}

func TestConditionalCacheIsBounded(t *testing.T) {
	es := &etagServer{bodies: map[string]string{"/huge": strings.Repeat("x", etagMaxBody+10)}}
	srv := httptest.NewServer(es)
	defer srv.Close()
	cond := newConditional(srv.Client().Transport)
	c := &http.Client{Transport: cond}

	if _, body := get(t, c, srv.URL+"/huge"); len(body) != etagMaxBody+10 {
		t.Fatalf("a long body came back %d bytes long, want all %d", len(body), etagMaxBody+10)
	}
	get(t, c, srv.URL+"/huge")
	if es.lastSent() != "/huge " {
		t.Errorf("a body over etagMaxBody was remembered: sent %q", es.lastSent())
	}
	for i := range etagMaxEntries + 1 {
		get(t, c, fmt.Sprintf("%s/p%d", srv.URL, i))
	}
	cond.mu.Lock()
	n, size := len(cond.entries), cond.bytes
	cond.mu.Unlock()
	if n != etagMaxEntries || size > etagMaxBytes {
		t.Errorf("%d entries of %d bytes, want at most %d and %d", n, size, etagMaxEntries, etagMaxBytes)
	}
	get(t, c, srv.URL+"/p0")
	if es.lastSent() != "/p0 " {
		t.Errorf("the least recently used entry was kept: sent %q", es.lastSent())
	}
	get(t, c, fmt.Sprintf("%s/p%d", srv.URL, etagMaxEntries))
	if es.lastSent() == fmt.Sprintf("/p%d ", etagMaxEntries) {
		t.Errorf("the newest entry was forgotten")
	}
}
