// Package actions calls the systems behind herald's chat actions and relays chat messages to
// the forward: receiver. Every request is a JSON POST signed with the endpoint's secret
// (X-Herald-Signature-256: sha256=<hex HMAC-SHA256 of the body>), so the receiver can tell it
// came from herald; the secret itself never leaves this package, in a request, an error or a
// log line.
package actions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/herald-ci/herald/commands"
)

// Header names on every request herald makes here.
const (
	SignatureHeader = "X-Herald-Signature-256"
	DeliveryHeader  = "X-Herald-Delivery" // forwarded messages only: the same on every attempt
)

// maxAnswer bounds what herald reads of an answer: a reply fits in a few KB.
const maxAnswer = 64 << 10

// Endpoint is one action's URL and secret.
type Endpoint struct {
	Name   string
	URL    string
	Secret string
}

// Client calls actions. The caller bounds each call with its context (commands applies the
// action's timeout), so the HTTP client has no timeout of its own.
type Client struct {
	endpoints map[string]Endpoint
	http      *http.Client
	userAgent string
}

// NewClient returns a Client for the endpoints; hc nil means a client of its own.
func NewClient(endpoints []Endpoint, hc *http.Client, version string) *Client {
	c := &Client{endpoints: map[string]Endpoint{}, http: hc, userAgent: "herald/" + version}
	if c.http == nil {
		// A redirect is answered, not followed: a 307 or 308 would post the signed body,
		// signature and all, to whatever host it names (and a 301/302 turn it into a GET).
		c.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, e := range endpoints {
		c.endpoints[e.Name] = e
	}
	return c
}

// Sign is the signature header's value for body: what a receiver computes to check it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature with secret, in constant time; for
// receivers written in Go and for herald's own tests.
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// User and Chat are who wrote and where, in the JSON bodies.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type Chat struct {
	ID     int64  `json:"id"`
	Type   string `json:"type"`
	Thread int64  `json:"thread"`
}

// ActionBody is the JSON an action receives.
type ActionBody struct {
	Action    string    `json:"action"`
	Args      []string  `json:"args"`
	Data      string    `json:"data,omitempty"` // a pressed button's data
	User      User      `json:"user"`
	Chat      Chat      `json:"chat"`
	MessageID int       `json:"message_id"`
	At        time.Time `json:"at"`
}

// CallAction posts the call to its action's URL and reads the answer. Errors are
// commands.ActionStatusError (non-2xx), commands.ErrActionAnswer (unreadable), the
// context's (timeout) or the transport's; none holds the secret.
func (c *Client) CallAction(ctx context.Context, call commands.ActionCall) (commands.ActionAnswer, error) {
	ep, ok := c.endpoints[call.Action]
	if !ok {
		return commands.ActionAnswer{}, fmt.Errorf("actions: no endpoint for action %q", call.Action)
	}
	args := call.Args
	if args == nil {
		args = []string{}
	}
	body, err := json.Marshal(ActionBody{Action: call.Action, Args: args, Data: call.Data,
		User:      User{ID: call.UserID, Username: call.UserName},
		Chat:      Chat{ID: call.ChatID, Type: call.ChatType, Thread: call.ThreadID},
		MessageID: call.MessageID, At: call.At.UTC()})
	if err != nil {
		return commands.ActionAnswer{}, fmt.Errorf("actions: encode: %w", err)
	}
	resp, err := c.post(ctx, ep.URL, ep.Secret, body, nil)
	if err != nil {
		return commands.ActionAnswer{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
		return commands.ActionAnswer{}, &commands.ActionStatusError{Status: resp.StatusCode}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return commands.ActionAnswer{}, fmt.Errorf("actions: read answer: %w", err)
	}
	if len(raw) > maxAnswer {
		return commands.ActionAnswer{}, fmt.Errorf("%w: longer than %d bytes", commands.ErrActionAnswer, maxAnswer)
	}
	return ParseAnswer(resp.Header.Get("Content-Type"), raw)
}

// post sends one signed JSON body. The error of a failed request names the action's host at
// most: net/http's errors quote the URL, which may carry credentials, so it is left out.
func (c *Client) post(ctx context.Context, url, secret string, body []byte, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("actions: bad URL")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(SignatureHeader, Sign(secret, body))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("actions: post to %s: %w", req.URL.Host, unwrapURLError(err))
	}
	return resp, nil
}

// unwrapURLError drops net/http's *url.Error, whose message repeats the whole URL, and keeps
// what it wraps (a timeout stays recognisable: context.DeadlineExceeded or a net.Error).
func unwrapURLError(err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
