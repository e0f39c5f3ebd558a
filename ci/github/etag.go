package github

import (
	"bytes"
	"container/list"
	"io"
	"net/http"
	"sync"
)

// GitHub answers a GET that carries the ETag of its last answer (If-None-Match) with 304 Not
// Modified when nothing changed, and a 304 to an authorized request does not count against
// the hourly rate limit. herald asks the same few lists every poll_interval (the runs of
// every repository, the workflows, the runners), so with conditional requests a poll where
// nothing happened costs nothing of the budget.

// Bounds of the conditional-request cache: it holds only the answers to GETs, the longest
// ones not at all, and forgets the least recently used first.
const (
	etagMaxEntries = 512
	etagMaxBytes   = 32 << 20 // all bodies together
	etagMaxBody    = 4 << 20  // one body; a page of 100 runs is about 1 MB
)

// conditional is an http.RoundTripper that remembers the ETag and body of GET answers by
// URL and sends If-None-Match when it asks again; a 304 is answered from the remembered body
// as a 200, with the 304's headers (rate-limit counts, a new ETag) over the remembered ones.
// It sits below go-github's client, which therefore sees an ordinary 200.
type conditional struct {
	next http.RoundTripper

	mu      sync.Mutex
	entries map[string]*list.Element // of *etagEntry
	lru     list.List                // front: most recently used
	bytes   int
	stats   etagStats
}

type etagEntry struct {
	key    string
	etag   string
	header http.Header
	body   []byte
}

// etagStats count the conditional transport's work, for tests and logs.
type etagStats struct {
	Asked, NotModified int // GETs sent with If-None-Match; of them, answered 304
}

func newConditional(next http.RoundTripper) *conditional {
	if next == nil {
		next = http.DefaultTransport
	}
	return &conditional{next: next, entries: map[string]*list.Element{}}
}

// cacheKey is the URL with the Accept header: the contents API answers one URL in several
// media types.
func cacheKey(req *http.Request) string { return req.Header.Get("Accept") + " " + req.URL.String() }

// RoundTrip implements http.RoundTripper.
func (c *conditional) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" || req.Header.Get("Range") != "" {
		return c.next.RoundTrip(req)
	}
	key := cacheKey(req)
	c.mu.Lock()
	var prev *etagEntry
	if el, ok := c.entries[key]; ok {
		prev = el.Value.(*etagEntry)
		c.lru.MoveToFront(el)
		c.stats.Asked++
	}
	c.mu.Unlock()
	if prev != nil {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		c.mu.Lock()
		c.stats.NotModified++
		c.mu.Unlock()
		return fromCache(resp, prev), nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		return c.remember(key, resp)
	}
	return resp, nil
}

// fromCache is the remembered answer, dressed in the 304's headers.
func fromCache(notModified *http.Response, e *etagEntry) *http.Response {
	h := e.header.Clone()
	for k, v := range notModified.Header {
		h[k] = v
	}
	h.Del("Content-Length")
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: notModified.Proto, ProtoMajor: notModified.ProtoMajor, ProtoMinor: notModified.ProtoMinor,
		Header: h, Body: io.NopCloser(bytes.NewReader(e.body)), ContentLength: int64(len(e.body)),
		Request: notModified.Request,
	}
}

// remember reads a 200's body and keeps it with its ETag, unless it is too long; the
// response is returned with its body readable again either way.
func (c *conditional) remember(key string, resp *http.Response) (*http.Response, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, etagMaxBody+1))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if len(body) > etagMaxBody {
		// Too long to keep: hand it on whole, read so far and the rest.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	e := &etagEntry{key: key, etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.bytes -= len(el.Value.(*etagEntry).body)
		c.lru.Remove(el)
	}
	c.entries[key] = c.lru.PushFront(e)
	c.bytes += len(body)
	for c.lru.Len() > etagMaxEntries || c.bytes > etagMaxBytes {
		old := c.lru.Back()
		oe := old.Value.(*etagEntry)
		c.lru.Remove(old)
		delete(c.entries, oe.key)
		c.bytes -= len(oe.body)
	}
	return resp, nil
}

// Stats are the transport's counts so far.
func (c *conditional) Stats() etagStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}
