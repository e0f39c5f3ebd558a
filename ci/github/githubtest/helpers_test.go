package githubtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v89/github"
)

const testToken = "test-token-123"

const ciYAML = `name: CI
on:
  push:
  workflow_dispatch:
    inputs:
      environment:
        type: choice
        options: [staging, production]
        default: staging
      debug:
        type: boolean
      note:
        description: free text
        required: true
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: make test
`

const pushOnlyYAML = "name: Lint\non: push\njobs: {}\n"

// fixture is a fake with one repository, two workflows and a fixed clock that a
// test moves.
type fixture struct {
	t      *testing.T
	srv    *Server
	mu     sync.Mutex
	now    time.Time
	ci     int64 // the CI workflow (dispatchable)
	lint   int64 // push only
	client *gh.Client
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	if opts.Token == "" && opts.App == nil {
		opts.Token = testToken
	}
	if opts.Now == nil {
		opts.Now = f.clock
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	f.srv = srv
	srv.AddRepo("acme/widgets", "main", "develop")
	f.ci = srv.AddWorkflow("acme/widgets", ".github/workflows/ci.yml", "CI", ciYAML)
	f.lint = srv.AddWorkflow("acme/widgets", ".github/workflows/lint.yml", "Lint", pushOnlyYAML)
	base := srv.URL() + "/"
	copts := []gh.ClientOptionsFunc{gh.WithURLs(&base, &base), gh.WithDisableRateLimitCheck()}
	if opts.Token != "" {
		copts = append(copts, gh.WithAuthToken(opts.Token))
	}
	c, err := gh.NewClient(copts...)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// tick moves the fake's clock on.
func (f *fixture) tick(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// do sends a raw request with the test token (token "" sends none) and returns the
// status, headers and body.
func (f *fixture) do(method, path, token, body string, header ...string) (int, http.Header, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL()+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// getJSON GETs path with the test token, wants 200 and decodes into v.
func (f *fixture) getJSON(path string, v any) http.Header {
	f.t.Helper()
	status, h, body := f.do(http.MethodGet, path, testToken, "")
	if status != http.StatusOK {
		f.t.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		f.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	return h
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantError checks a GitHub error body.
func wantError(t *testing.T, status int, body []byte, wantStatus int, wantMessage string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	var e struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
		Status           string `json:"status"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Message != wantMessage {
		t.Errorf("message %q, want %q", e.Message, wantMessage)
	}
	if !strings.HasPrefix(e.DocumentationURL, "https://docs.github.com/") {
		t.Errorf("documentation_url %q", e.DocumentationURL)
	}
	if e.Status != strconv.Itoa(wantStatus) {
		t.Errorf("status field %q, want %q", e.Status, strconv.Itoa(wantStatus))
	}
}

// syncWriter serializes writes for a buffer read after Close.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
