package jenkins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-ci/herald/ci"
)

// ErrAuth is wrapped when Jenkins refuses herald's credentials.
var ErrAuth = errors.New("jenkins: credentials refused")

// DefaultRetryWait is how long herald waits after a 429 or 503 that says nothing of when to
// come back.
const DefaultRetryWait = 30 * time.Second

// maxBody bounds what herald reads of one answer: the tree of a large instance is a few MB.
const maxBody = 32 << 20

// client makes herald's requests to one Jenkins: basic auth on every request, and the CSRF
// crumb on every POST. Jenkins binds a crumb to the web session it was issued in (since
// 2.176.2), so the client keeps the session's cookie (its http.Client has a jar) and
// fetches a new crumb when Jenkins refuses the one it has.
type client struct {
	conn           string
	root           *url.URL // ends in /
	user, password string
	hc             *http.Client

	mu         sync.Mutex
	crumbField string // e.g. Jenkins-Crumb; empty with crumbNone or before the first fetch
	crumb      string
	crumbNone  bool // the crumb issuer answered 404: CSRF protection is off
}

// httpError is an answer herald did not want. Reason is Jenkins' reason phrase (it puts its
// message there: "Invalid password/token for user: herald"), cleaned; it never holds a
// credential.
type httpError struct {
	Method, Path string
	Status       int
	Reason       string
	RetryAfter   time.Duration
	// With a 403, Jenkins names the permission missing (X-Required-Permission) and who it
	// took the request for (X-You-Are-Authenticated-As: anonymous without credentials).
	Permission, User string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: http %d %s", e.Method, e.Path, e.Status, e.Reason)
}

// url is the absolute URL of path (below the root, escaped as jobPath escapes it) with
// query q.
func (c *client) url(path string, q url.Values) string {
	s := c.root.String() + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u, err := url.Parse(c.url(path, q))
	if err != nil {
		return nil, fmt.Errorf("jenkins: %s: bad path %q: %w", c.conn, path, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("jenkins: %s: %w", c.conn, err)
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	req.Header.Set("User-Agent", "herald-ci")
	return req, nil
}

// do sends req and returns the response of a 2xx or 3xx, else an *httpError.
func (c *client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		// The url.Error names the URL, which holds no credential (they go in a header).
		return nil, err
	}
	if resp.StatusCode >= 400 {
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &httpError{
			Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode,
			Reason: reasonOf(resp, page), RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
			Permission: ci.CleanText(resp.Header.Get("X-Required-Permission")),
			User:       ci.CleanText(resp.Header.Get("X-You-Are-Authenticated-As")),
		}
	}
	return resp, nil
}

// reasonOf is Jenkins' message in an error answer: the reason phrase where Jetty puts it
// (Jetty 9: "403 No valid crumb was included in the request"), else the title of its error
// page ("<title>Error 403 No valid crumb ...</title>"), else the status' text.
func reasonOf(resp *http.Response, page []byte) string {
	r := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	if r == "" || r == http.StatusText(resp.StatusCode) {
		r = http.StatusText(resp.StatusCode)
		if t := pageTitle(page); t != "" {
			r = strings.TrimSpace(strings.TrimPrefix(t, "Error "+strconv.Itoa(resp.StatusCode)))
		}
	}
	if len(r) > 200 {
		r = r[:200]
	}
	return ci.CleanText(r)
}

// pageTitle is the text of an HTML page's <title>, "" when it has none.
func pageTitle(page []byte) string {
	s := string(page)
	i := strings.Index(s, "<title>")
	if i < 0 {
		return ""
	}
	s = s[i+len("<title>"):]
	j := strings.Index(s, "</title>")
	if j < 0 {
		return ""
	}
	return html.UnescapeString(strings.TrimSpace(s[:j]))
}

// retryAfter reads a Retry-After of seconds or an HTTP date; 0 when there is none, a second
// at least for a date.
func retryAfter(v string) time.Duration {
	wait, ok := ci.ParseRetryAfter(v, time.Now())
	switch {
	case !ok:
		return 0
	case wait == 0 && strings.TrimSpace(v) != "0":
		return time.Second // a date already past
	}
	return wait
}

// getJSON reads path's JSON into out.
func (c *client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &httpError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Reason: reasonOf(resp, nil)}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		if resp.Header.Get("X-Jenkins") == "" {
			// Jenkins names its version in X-Jenkins; a sign-in page of a proxy in front of
			// it (SSO) answers 200 too, without it.
			return fmt.Errorf("jenkins: %s: GET %s: the answer is not Jenkins' (no X-Jenkins header; a proxy's sign-in page?): %w",
				c.conn, req.URL.Path, err)
		}
		return fmt.Errorf("jenkins: %s: GET %s: the answer is not the JSON expected: %w", c.conn, req.URL.Path, err)
	}
	return nil
}

// postResult is what a POST answered.
type postResult struct {
	Status   int
	Location string
}

// post sends a form to path with the crumb, fetching one first when Jenkins issues them, and
// a fresh one once when Jenkins refuses the one sent (its session ended).
func (c *client) post(ctx context.Context, path string, form url.Values) (postResult, error) {
	for attempt := 0; ; attempt++ {
		field, crumb, err := c.crumbFor(ctx, attempt > 0)
		if err != nil {
			return postResult{}, err
		}
		req, err := c.newRequest(ctx, http.MethodPost, path, nil, strings.NewReader(form.Encode()))
		if err != nil {
			return postResult{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if field != "" {
			req.Header.Set(field, crumb)
		}
		resp, err := c.do(req)
		var he *httpError
		if errors.As(err, &he) && he.Status == http.StatusForbidden && strings.Contains(strings.ToLower(he.Reason), "crumb") && attempt == 0 {
			continue
		}
		if err != nil {
			return postResult{}, err
		}
		resp.Body.Close()
		return postResult{Status: resp.StatusCode, Location: resp.Header.Get("Location")}, nil
	}
}

// crumbFor returns the crumb header to send; renew drops the one known.
func (c *client) crumbFor(ctx context.Context, renew bool) (string, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if renew {
		c.crumbField, c.crumb, c.crumbNone = "", "", false
	}
	if c.crumbNone || c.crumbField != "" {
		return c.crumbField, c.crumb, nil
	}
	var ans struct {
		Crumb             string `json:"crumb"`
		CrumbRequestField string `json:"crumbRequestField"`
	}
	err := c.getJSON(ctx, "crumbIssuer/api/json", nil, &ans)
	var he *httpError
	switch {
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		c.crumbNone = true
		return "", "", nil
	case err != nil:
		return "", "", err
	case ans.CrumbRequestField == "" || ans.Crumb == "":
		return "", "", fmt.Errorf("jenkins: %s: the crumb issuer answered no crumb", c.conn)
	}
	c.crumbField, c.crumb = ans.CrumbRequestField, ans.Crumb
	return c.crumbField, c.crumb, nil
}

// apiError turns a client error into herald's: what a chat user may see is a ci.UserError, a
// 429 or 503 carries how long to wait (ci.RetryAfterError), a 404 wraps ci.ErrNotFound. what
// names the request for logs ("read the jobs"). No message holds the password.
func (p *Provider) apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	conn := p.cfg.Name
	wrapped := fmt.Errorf("jenkins: %s: %s: %w", conn, what, err)
	var (
		he *httpError
		ne net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return wrapped
	case errors.As(err, &he):
		switch code := he.Status; {
		case code == http.StatusUnauthorized:
			return ci.Userf(fmt.Errorf("%w: %s: %s: %v", ErrAuth, conn, what, err),
				fmt.Sprintf("Jenkins refused the credentials of %s (401 %s): check auth in herald's config", conn, he.Reason))
		case code == http.StatusNotFound:
			return fmt.Errorf("jenkins: %s: %s: %w", conn, what, ci.ErrNotFound)
		case code == http.StatusForbidden:
			return ci.Userf(wrapped, fmt.Sprintf("Jenkins denied %s the right to %s (403 %s): %s", conn, what, he.Reason, lacking(he)))
		case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
			wait := he.RetryAfter
			if wait <= 0 {
				wait = DefaultRetryWait
			}
			return &ci.RetryAfterError{Wait: wait, Err: p.notAnswering(wrapped)}
		case code >= 500:
			return p.notAnswering(wrapped)
		}
		return wrapped
	case errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded):
		return p.notAnswering(wrapped)
	}
	return wrapped
}

// lacking says which permission a 403 wants, and of whom, as far as Jenkins said.
func lacking(he *httpError) string {
	user := "the user"
	if he.User != "" {
		user = "user " + he.User
	}
	if he.Permission == "" {
		return user + " may lack a permission"
	}
	return user + " lacks the permission " + he.Permission
}

// notAnswering is the error a chat user sees when Jenkins is down or unreachable.
func (p *Provider) notAnswering(err error) error {
	return ci.Userf(err, fmt.Sprintf("Jenkins at %s did not answer", p.cfg.Name))
}

// statusOf is the HTTP status of a client error, 0 when it has none.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}
