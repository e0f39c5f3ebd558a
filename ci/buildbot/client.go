package buildbot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/herald-ci/herald/ci"
)

// Auth says how herald proves itself to Buildbot. With basic auth herald logs in at
// auth/login (Buildbot 3.x answers the REST API by session cookie, not per request) and logs
// in again when the session is refused; bearer sends the token on every request, for masters
// behind a proxy that checks it.
type Auth struct {
	Kind     string // "none" (or ""), "basic" or "bearer"
	Username string
	Password string
	Token    string
}

// ErrAuth is wrapped when Buildbot refuses herald's credentials.
var ErrAuth = errors.New("buildbot: login refused")

// ErrTooLarge is wrapped when an answer is longer than herald reads (maxAnswer): a cut
// answer would parse as a shorter list, or not at all, so it is refused as a whole.
var ErrTooLarge = errors.New("buildbot: answer too large")

// maxAnswer is the longest REST answer herald reads by default. Lists that grow without bound
// (the catch-up's builds) are asked for in pages far below it.
const maxAnswer = 64 << 20

// httpError is a non-2xx answer of the REST API.
type httpError struct {
	Status int
	Body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("http %d: %.200s", e.Status, e.Body) }

type client struct {
	name string
	base string // web root with trailing slash
	auth Auth
	http *http.Client
	// maxBody is the longest answer read (maxAnswer when 0); a longer one is ErrTooLarge.
	maxBody int64

	mu       sync.Mutex
	loggedIn bool
}

func (c *client) authorize(req *http.Request) {
	switch c.auth.Kind {
	case "basic":
		req.SetBasicAuth(c.auth.Username, c.auth.Password)
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+c.auth.Token)
	}
}

// notAnswering is the error a chat user sees when the master is down or unreachable.
func (c *client) notAnswering(err error) error {
	return ci.Userf(fmt.Errorf("buildbot: %s: %w", c.name, err), fmt.Sprintf("Buildbot at %s did not answer", c.name))
}

// login opens a session with basic auth. Its errors never carry the password.
func (c *client) login(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"auth/login", nil)
	if err != nil {
		return fmt.Errorf("buildbot: login request: %w", err)
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.notAnswering(redact(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return ci.Userf(fmt.Errorf("%w: %s: user %q: http %d", ErrAuth, c.name, c.auth.Username, resp.StatusCode),
			fmt.Sprintf("Buildbot at %s refused herald's login (user %s): check the password in herald's config", c.name, c.auth.Username))
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode/100 != 3 {
		return c.notAnswering(&httpError{Status: resp.StatusCode})
	}
	c.mu.Lock()
	c.loggedIn = true
	c.mu.Unlock()
	return nil
}

// call sends a request to api/v2/<path> and returns the body of a 2xx answer. With basic
// auth it logs in first, and once more when the session is refused.
func (c *client) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		if c.auth.Kind == "basic" {
			c.mu.Lock()
			in := c.loggedIn
			c.mu.Unlock()
			if !in {
				if err := c.login(ctx); err != nil {
					return nil, err
				}
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+"api/v2/"+path, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("buildbot: request %s: %w", path, err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		c.authorize(req)
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("buildbot: %s: %w", path, ctx.Err())
			}
			return nil, c.notAnswering(redact(err))
		}
		limit := c.maxBody
		if limit <= 0 {
			limit = maxAnswer
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		if err != nil {
			return nil, c.notAnswering(redact(err))
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("buildbot: %s %s: %w: more than %d bytes", method, path, ErrTooLarge, limit)
		}
		if (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) &&
			c.auth.Kind == "basic" && attempt == 0 {
			c.mu.Lock()
			c.loggedIn = false
			c.mu.Unlock()
			continue
		}
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return nil, fmt.Errorf("buildbot: %s: %w", path, ci.ErrNotFound)
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return nil, ci.Userf(fmt.Errorf("%w: %s: %s", ErrAuth, c.name, &httpError{Status: resp.StatusCode, Body: string(data)}),
				fmt.Sprintf("Buildbot at %s refused herald: check its credentials in herald's config", c.name))
		case resp.StatusCode/100 != 2:
			return nil, fmt.Errorf("buildbot: %s %s: %w", method, path, &httpError{Status: resp.StatusCode, Body: string(data)})
		}
		return data, nil
	}
}

func (c *client) get(ctx context.Context, path string) ([]byte, error) {
	return c.call(ctx, http.MethodGet, path, nil)
}

// rpc calls a JSON-RPC control method on an endpoint and returns its result.
func (c *client) rpc(ctx context.Context, path, method string, params map[string]any) (json.RawMessage, error) {
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method, "id": 1, "params": params})
	if err != nil {
		return nil, fmt.Errorf("buildbot: encode %s: %w", method, err)
	}
	data, err := c.call(ctx, http.MethodPost, path, body)
	var he *httpError
	if errors.As(err, &he) {
		// Buildbot answers JSON-RPC errors with 4xx/5xx and the reason in the body.
		if r, perr := parseRPCReply([]byte(he.Body)); perr == nil && r.Error != nil {
			return nil, &rpcError{Code: r.Error.Code, Message: r.Error.Message}
		}
	}
	if err != nil {
		return nil, err
	}
	r, err := parseRPCReply(data)
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, &rpcError{Code: r.Error.Code, Message: r.Error.Message}
	}
	return r.Result, nil
}

// rpcError is Buildbot's refusal of a control call, e.g. a failed force validation.
type rpcError struct {
	Code    int
	Message string
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("buildbot: json-rpc error %d: %s", e.Code, e.Message)
}

// redact strips the URL's user info from transport errors so no credential can reach a log.
func redact(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.Index(s[i+3:], "@"); j >= 0 && !strings.ContainsAny(s[i+3:i+3+j], "/ ") {
			s = s[:i+3] + s[i+3+j+1:]
			return errors.New(s)
		}
	}
	return err
}

// getList asks the REST API for path and decodes the list under key of its answer (every
// Buildbot collection answers {"<key>": [...], "meta": ...}). Errors name the path.
func getList[T any](ctx context.Context, c *client, path, key string) ([]T, error) {
	data, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	out, err := decodeList[T](data, key)
	if err != nil {
		return nil, fmt.Errorf("buildbot: %s: %w", path, err)
	}
	return out, nil
}
