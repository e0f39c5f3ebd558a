package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

// The REST client is go-github's: its types follow GitHub's documented schemas field by field
// (the webhook parser reads the same ones), it tracks X-RateLimit-* and refuses to send while
// a limit is known to be exhausted, and it reports primary and secondary rate limits as
// errors of their own, which herald maps to ci.RetryAfterError. A GitHub App's installation
// tokens are made and renewed by ghinstallation, the library go-github points to for it.
// Below both sits the conditional-request cache (etag.go).

// ErrAuth is wrapped when GitHub refuses herald's credentials.
var ErrAuth = errors.New("github: credentials refused")

// DefaultSecondaryWait is how long herald waits after a secondary rate limit that says
// nothing of when to come back (GitHub's documentation asks for at least a minute).
const DefaultSecondaryWait = 60 * time.Second

// userAgent names herald to GitHub, which asks every client to send one.
const userAgent = "herald-ci"

// newAPI makes the authenticated client of a connection whose REST API root is base.
func newAPI(cfg Config, base string) (*gh.Client, *conditional, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	under := hc.Transport
	if under == nil {
		under = http.DefaultTransport
	}
	var authed http.RoundTripper = under
	// go-github refuses requests locally after a secondary limit until the time it read from
	// Retry-After or, lacking one, from x-ratelimit-reset, which is the hourly window's end
	// and no wait GitHub asked for: its block is capped at herald's own default wait.
	opts := []gh.ClientOptionsFunc{gh.WithUserAgent(userAgent), gh.WithMaxSecondaryRateLimitRetryAfterDuration(DefaultSecondaryWait)}
	switch cfg.Auth.Kind {
	case "bearer":
		opts = append(opts, gh.WithAuthToken(cfg.Auth.Token))
	case "github_app":
		it, err := ghinstallation.New(under, cfg.Auth.AppID, cfg.Auth.InstallationID, cfg.Auth.PrivateKey)
		if err != nil {
			// The library's message may describe the key's bytes; say only what is wrong.
			return nil, nil, fmt.Errorf("github: config %s: the App's private key cannot be used", cfg.Name)
		}
		it.BaseURL = strings.TrimSuffix(base, "/")
		authed = it
	}
	cond := newConditional(authed)
	client := &http.Client{Transport: cond, Timeout: hc.Timeout, Jar: hc.Jar, CheckRedirect: hc.CheckRedirect}
	// The url is used as written: WithEnterpriseURLs would add /api/v3 to a root that has
	// none (a proxy, a test server), and an Enterprise Server's root is written with it.
	root := strings.TrimSuffix(base, "/") + "/"
	opts = append(opts, gh.WithHTTPClient(client), gh.WithURLs(&root, &root))
	c, err := gh.NewClient(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("github: config %s: %w", cfg.Name, err)
	}
	return c, cond, nil
}

// apiError turns an error of the client into herald's: what a chat user may see is a
// ci.UserError, rate limits carry how long to wait (ci.RetryAfterError), a missing object
// wraps ci.ErrNotFound. what names the request for logs ("list runs of acme/widgets"). No
// message holds a credential: go-github's errors name the method and URL (herald's URLs
// carry none), GitHub's message and the status.
func (p *Provider) apiError(what string, err error) error {
	if err == nil {
		return nil
	}
	conn := p.cfg.Name
	wrapped := fmt.Errorf("github: %s: %s: %w", conn, what, err)
	var (
		rl    *gh.RateLimitError
		abuse *gh.AbuseRateLimitError
		er    *gh.ErrorResponse
		he    *ghinstallation.HTTPError
		ne    net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return wrapped
	case errors.As(err, &rl):
		wait := max(rl.Rate.Reset.Time.Sub(p.now()), time.Second)
		msg := fmt.Sprintf("GitHub's API rate limit for %s is used up", conn)
		if !rl.Rate.Reset.Time.IsZero() {
			msg += "; it resets at " + rl.Rate.Reset.Time.UTC().Format("15:04 UTC")
		}
		return &ci.RetryAfterError{Wait: wait, Err: ci.Userf(wrapped, msg)}
	case errors.As(err, &abuse):
		return p.slowDown(wrapped, p.secondaryWait(abuse.Response, abuse.GetRetryAfter()))
	case errors.As(err, &he) && he.Response != nil:
		// The App's installation token could not be made. ghinstallation leaves the
		// response's body open; closing it frees the connection.
		if he.Response.Body != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(he.Response.Body, 64<<10))
			_ = he.Response.Body.Close()
		}
		code := he.Response.StatusCode
		if code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound {
			return ci.Userf(fmt.Errorf("%w: %s: installation token: http %d", ErrAuth, conn, code),
				fmt.Sprintf("GitHub refused the App credentials of %s (HTTP %d for installation %d of app %d): check auth in herald's config",
					conn, code, p.cfg.Auth.InstallationID, p.cfg.Auth.AppID))
		}
		return p.notAnswering(wrapped)
	case errors.As(err, &er) && er.Response != nil:
		msg := ci.CleanText(er.Message)
		switch code := er.Response.StatusCode; {
		case code == http.StatusTooManyRequests,
			code == http.StatusForbidden && er.Response.Header.Get("Retry-After") != "":
			// A secondary limit whose body go-github does not recognise (its
			// documentation_url): GitHub documents 429, and a 403 with Retry-After, as
			// "slow down" whatever the body says.
			return p.slowDown(wrapped, p.secondaryWait(er.Response, 0))
		case code == http.StatusUnauthorized:
			if msg == "" {
				msg = "Bad credentials"
			}
			return ci.Userf(fmt.Errorf("%w: %s: %s: http 401 %s", ErrAuth, conn, what, msg),
				fmt.Sprintf("GitHub refused the token of %s (401 %s): check auth in herald's config", conn, msg))
		case code == http.StatusNotFound:
			return fmt.Errorf("github: %s: %s: %w", conn, what, ci.ErrNotFound)
		case code == http.StatusForbidden:
			return ci.Userf(wrapped, fmt.Sprintf("GitHub denied %s access to %s (403 %s): the token may lack a permission", conn, what, msg))
		case code >= 500:
			return p.notAnswering(wrapped)
		}
		return wrapped
	case errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded):
		return p.notAnswering(wrapped)
	}
	return wrapped
}

// secondaryWait is how long to wait after a secondary rate limit, as GitHub's documentation
// says: Retry-After's seconds when it is sent; else, when x-ratelimit-remaining is 0, until
// x-ratelimit-reset; else at least DefaultSecondaryWait. x-ratelimit-reset alone is the end
// of the hourly window, which every answer carries: no reason to wait that long. A refusal
// go-github made itself, without asking GitHub, has no headers: its own wait (local) is
// what is left of the last one.
func (p *Provider) secondaryWait(resp *http.Response, local time.Duration) time.Duration {
	if resp == nil || len(resp.Header) == 0 {
		if local > 0 {
			return local
		}
		return DefaultSecondaryWait
	}
	h := resp.Header
	if wait, ok := ci.ParseRetryAfter(h.Get("Retry-After"), p.now()); ok && wait > 0 {
		return wait
	}
	if h.Get(gh.HeaderRateRemaining) == "0" {
		if n, err := strconv.ParseInt(h.Get(gh.HeaderRateReset), 10, 64); err == nil {
			if wait := time.Unix(n, 0).Sub(p.now()); wait > 0 {
				return wait
			}
		}
	}
	return DefaultSecondaryWait
}

// slowDown is the error of a secondary rate limit: wait, and a message a chat user may see.
func (p *Provider) slowDown(err error, wait time.Duration) error {
	return &ci.RetryAfterError{Wait: wait, Err: ci.Userf(err,
		fmt.Sprintf("GitHub asked herald to slow down (a secondary rate limit on %s): try again in %s", p.cfg.Name, wait.Round(time.Second)))}
}

// notAnswering is the error a chat user sees when GitHub is down or unreachable.
func (p *Provider) notAnswering(err error) error {
	return ci.Userf(err, fmt.Sprintf("GitHub at %s did not answer", p.cfg.Name))
}

// statusOf is the HTTP status of a client error, 0 when it has none.
func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
