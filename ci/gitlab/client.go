package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// The REST client is GitLab's own. Two of its habits are turned off: it retries a 429 and a
// 5xx by itself (up to five times, a fraction of a second apart), and it sets up a
// client-side limiter from the first answer's RateLimit-Limit. herald decides itself when to
// ask again: a 429 becomes a ci.RetryAfterError that the Follower obeys, and a command gets
// an answer at once instead of hanging in a limiter.

// ErrAuth is wrapped when GitLab refuses herald's token.
var ErrAuth = errors.New("gitlab: credentials refused")

// Ways to send the token (auth.header).
const (
	HeaderPrivateToken  = "private_token" // PRIVATE-TOKEN: <token>, for access tokens
	HeaderAuthorization = "authorization" // Authorization: Bearer <token>, for OAuth tokens too
)

// DefaultRetryAfter is how long herald waits after a 429 that says nothing of when to come
// back (no Retry-After, no RateLimit-Reset).
const DefaultRetryAfter = 60 * time.Second

const userAgent = "herald-ci"

// noLimit is a limiter that never waits (see above).
type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

// newAPI makes the authenticated client of a connection on GitLab instance base.
func newAPI(cfg Config, base string) (*gl.Client, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	opts := []gl.ClientOptionFunc{
		gl.WithBaseURL(strings.TrimSuffix(base, "/") + "/api/v4/"),
		gl.WithHTTPClient(hc),
		gl.WithoutRetries(),
		gl.WithCustomLimiter(noLimit{}),
		gl.WithUserAgent(userAgent),
		gl.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
	}
	var (
		c   *gl.Client
		err error
	)
	if cfg.TokenHeader == HeaderAuthorization {
		c, err = gl.NewOAuthClient(cfg.Token, opts...)
	} else {
		c, err = gl.NewClient(cfg.Token, opts...)
	}
	if err != nil {
		// The library's message names the URL at most, never the token.
		return nil, fmt.Errorf("gitlab: config %s: %w", cfg.Name, err)
	}
	return c, nil
}

// apiError turns an error of the client into herald's: what a chat user may see is a
// ci.UserError, a 429 carries how long to wait (ci.RetryAfterError), a missing object wraps
// ci.ErrNotFound. what names the request for logs ("list pipelines of group/app"). No
// message holds a credential: the client's errors name the method, the URL (herald's URLs
// carry none), the status and GitLab's message.
func (p *Provider) apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	conn := p.cfg.Name
	wrapped := fmt.Errorf("gitlab: %s: %s: %w", conn, what, err)
	var (
		er *gl.ErrorResponse
		ne net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return wrapped
	case errors.Is(err, gl.ErrNotFound):
		return fmt.Errorf("gitlab: %s: %s: %w", conn, what, ci.ErrNotFound)
	case errors.As(err, &er) && er.Response != nil:
		msg := message(er)
		switch code := er.Response.StatusCode; {
		case code == http.StatusUnauthorized:
			if msg == "" {
				msg = "401 Unauthorized"
			}
			return ci.Userf(fmt.Errorf("%w: %s: %s: http 401 %s", ErrAuth, conn, what, msg),
				fmt.Sprintf("GitLab refused the token of %s (%s): check auth in herald's config", conn, msg))
		case code == http.StatusTooManyRequests:
			wait := retryAfter(er.Response.Header, p.now())
			return &ci.RetryAfterError{Wait: wait, Err: ci.Userf(wrapped,
				fmt.Sprintf("GitLab's rate limit for %s is used up: try again in %s", conn, wait.Round(time.Second)))}
		case code == http.StatusForbidden:
			return ci.Userf(wrapped, fmt.Sprintf("GitLab denied %s access to %s (%s): the token may lack a scope or a role", conn, what, msg))
		case code >= 500:
			return p.notAnswering(wrapped)
		}
		return wrapped
	case errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded):
		return p.notAnswering(wrapped)
	}
	return wrapped
}

// message is GitLab's own words in an error's body: its "message" or "error", a string or
// an object of field → messages ({"message":{"base":["Reference not found"]}}), cleaned.
func message(er *gl.ErrorResponse) string {
	var body struct {
		Message any `json:"message"`
		Error   any `json:"error"`
	}
	if json.Unmarshal(er.Body, &body) != nil {
		return ""
	}
	var parts []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			parts = append(parts, v)
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(v[k])
			}
		}
	}
	walk(body.Message)
	walk(body.Error)
	return ci.CleanText(strings.Join(parts, "; "))
}

// retryAfter is how long a 429 asks herald to wait: Retry-After in seconds, else until
// RateLimit-Reset (a Unix time), else DefaultRetryAfter; a second at least.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if wait, ok := ci.ParseRetryAfter(h.Get("Retry-After"), now); ok {
		return max(wait, time.Second)
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(h.Get("RateLimit-Reset")), 10, 64); err == nil && s > 0 {
		return max(time.Unix(s, 0).Sub(now), time.Second)
	}
	return DefaultRetryAfter
}

// notAnswering is the error a chat user sees when GitLab is down or unreachable.
func (p *Provider) notAnswering(err error) error {
	return ci.Userf(err, fmt.Sprintf("GitLab at %s did not answer", p.cfg.Name))
}

// statusOf is the HTTP status of a client error, 0 when it has none (404 is the client's
// sentinel: 404).
func statusOf(err error) int {
	var er *gl.ErrorResponse
	switch {
	case errors.Is(err, gl.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &er) && er.Response != nil:
		return er.Response.StatusCode
	}
	return 0
}
