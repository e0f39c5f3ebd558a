package githubtest

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	gh "github.com/google/go-github/v89/github"
)

func TestETagAndNotModified(t *testing.T) {
	f := newFixture(t, Options{})
	id := f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	path := "/repos/acme/widgets/actions/runs"
	status, h, body := f.do(http.MethodGet, path, testToken, "")
	etag := h.Get("ETag")
	if status != http.StatusOK || etag == "" {
		t.Fatalf("status %d, ETag %q", status, etag)
	}
	used, _ := strconv.Atoi(h.Get("X-RateLimit-Used"))

	status, h, body = f.do(http.MethodGet, path, testToken, "", "If-None-Match", etag)
	if status != http.StatusNotModified || len(body) != 0 {
		t.Fatalf("same ETag: status %d, body %q", status, body)
	}
	if got, _ := strconv.Atoi(h.Get("X-RateLimit-Used")); got != used {
		t.Errorf("a 304 counted against the limit: used %d → %d", used, got)
	}
	if h.Get("ETag") != etag || h.Get("X-RateLimit-Remaining") == "" {
		t.Errorf("304 headers: %v", h)
	}

	f.srv.StartRun(id, "build", "Test") // the list changes, so does its ETag
	status, h, _ = f.do(http.MethodGet, path, testToken, "", "If-None-Match", etag)
	if status != http.StatusOK || h.Get("ETag") == etag {
		t.Errorf("changed list: status %d, ETag %q (old %q)", status, h.Get("ETag"), etag)
	}
	if got, _ := strconv.Atoi(h.Get("X-RateLimit-Used")); got != used+1 {
		t.Errorf("a 200 did not count: used %d → %d", used, got)
	}
	st := f.srv.Stats()
	if st.NotModified != 1 || st.ByRoute["GET /repos/{owner}/{repo}/actions/runs"] != 3 || st.Total != 3 {
		t.Errorf("stats %+v", st)
	}
	// POST answers carry no ETag.
	status, h, _ = f.do(http.MethodPost, "/repos/acme/widgets/actions/runs/"+strconv.FormatInt(id, 10)+"/cancel", testToken, "")
	if status != http.StatusAccepted || h.Get("ETag") != "" {
		t.Errorf("cancel: %d ETag %q", status, h.Get("ETag"))
	}
}

func TestPrimaryRateLimit(t *testing.T) {
	f := newFixture(t, Options{RateLimit: 3})
	reset := f.clock().Add(time.Hour).Unix()
	for i := 1; i <= 3; i++ {
		status, h, body := f.do(http.MethodGet, "/repos/acme/widgets", testToken, "")
		if status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
		want := map[string]string{"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": strconv.Itoa(3 - i),
			"X-RateLimit-Used": strconv.Itoa(i), "X-RateLimit-Reset": strconv.FormatInt(reset, 10), "X-RateLimit-Resource": "core"}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("request %d: %s = %q, want %q", i, k, h.Get(k), v)
			}
		}
	}
	// GET /rate_limit is free and tells the same.
	var rl struct {
		Resources struct {
			Core struct{ Limit, Used, Remaining int }
		}
	}
	f.getJSON("/rate_limit", &rl)
	if rl.Resources.Core.Limit != 3 || rl.Resources.Core.Used != 3 || rl.Resources.Core.Remaining != 0 {
		t.Errorf("rate_limit %+v", rl)
	}
	status, h, body := f.do(http.MethodGet, "/repos/acme/widgets", testToken, "")
	wantError(t, status, body, http.StatusForbidden, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.")
	if h.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("remaining %q", h.Get("X-RateLimit-Remaining"))
	}
	// go-github recognises it as a primary limit.
	_, _, err := f.client.Repositories.Get(ctxT(t), "acme", "widgets")
	var rle *gh.RateLimitError
	if !errors.As(err, &rle) || rle.Rate.Remaining != 0 || rle.Rate.Reset.Unix() != reset {
		t.Errorf("go-github error %T %v", err, err)
	}
	// The next hour has a fresh budget.
	f.tick(time.Hour)
	if status, h, _ := f.do(http.MethodGet, "/repos/acme/widgets", testToken, ""); status != http.StatusOK || h.Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("after reset: %d remaining %q", status, h.Get("X-RateLimit-Remaining"))
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.Limit(1, http.StatusTooManyRequests, 1500*time.Millisecond)
	f.srv.Limit(1, http.StatusForbidden, 0)
	status, h, body := f.do(http.MethodGet, "/repos/acme/widgets", testToken, "")
	wantError(t, status, body, http.StatusTooManyRequests, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
	if h.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q, want 2 (1.5 s rounded up)", h.Get("Retry-After"))
	}
	_, _, err := f.client.Repositories.Get(ctxT(t), "acme", "widgets")
	var abuse *gh.AbuseRateLimitError
	if !errors.As(err, &abuse) {
		t.Errorf("go-github: %T %v", err, err)
	}
	if status, _, _ := f.do(http.MethodGet, "/repos/acme/widgets", testToken, ""); status != http.StatusOK {
		t.Errorf("after the limited requests: %d", status)
	}
	if st := f.srv.Stats(); st.RateLimited != 2 {
		t.Errorf("stats %+v", st)
	}
}
