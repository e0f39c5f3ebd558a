package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// MessageBody is the JSON the forward: receiver gets for one chat message.
type MessageBody struct {
	Text      string    `json:"text"`
	User      User      `json:"user"`
	Chat      Chat      `json:"chat"`
	MessageID int       `json:"message_id"`
	At        time.Time `json:"at"`
}

// Relay picks the messages to forward: plain (non-command) text in the listed chats. It is
// what the intake asks, for every request, in the transaction that marks the update handled.
type Relay struct {
	chats map[int64]bool
	now   func() time.Time
}

// NewRelay forwards messages of the given chats.
func NewRelay(chats []int64, now func() time.Time) *Relay {
	r := &Relay{chats: map[int64]bool{}, now: now}
	if r.now == nil {
		r.now = time.Now
	}
	for _, c := range chats {
		r.chats[c] = true
	}
	return r
}

// Body is the JSON to relay for req, or nil when req is not relayed (a command, a button, an
// empty text, another chat).
func (r *Relay) Body(req commands.Request) []byte {
	if r == nil || !r.chats[req.ChatID] || req.Command != "" || req.Button != nil || req.Text == "" {
		return nil
	}
	body, err := json.Marshal(MessageBody{Text: req.Text, User: User{ID: req.UserID, Username: req.UserName},
		Chat: Chat{ID: req.ChatID, Type: req.ChatType, Thread: req.ThreadID}, MessageID: req.MessageID, At: r.now().UTC()})
	if err != nil {
		return nil // plain strings and numbers always encode
	}
	return body
}

// ForwardQueue is the part of the store the forwarder works on.
type ForwardQueue interface {
	DueForwards(ctx context.Context, now time.Time, limit int) ([]store.Forward, error)
	NextForward(ctx context.Context) (time.Time, bool, error)
	ForwardDelivered(ctx context.Context, id int64) error
	ForwardRetry(ctx context.Context, id int64, next time.Time, lastError string) error
	ForwardGiveUp(ctx context.Context, id int64, at time.Time, lastError string) error
}

// ForwarderOptions configure a Forwarder; zero values take the defaults.
type ForwarderOptions struct {
	Timeout  time.Duration    // per attempt; default 10s
	Poll     time.Duration    // how often the queue is looked at when idle; default 1s
	RetryMin time.Duration    // first backoff; default 1s, doubled per attempt
	RetryMax time.Duration    // default 10m
	Now      func() time.Time // default time.Now
}

// Forwarder sends the stored relays, oldest first, at least once each: a relay leaves the
// queue only when the receiver answered 2xx. It runs in one process at a time (the
// "forwarder" role); every attempt of a relay carries its delivery id.
type Forwarder struct {
	q      ForwardQueue
	client *Client
	url    string
	secret string
	opts   ForwarderOptions
	log    zerolog.Logger
}

// NewForwarder returns a forwarder posting to url, signed with secret.
func NewForwarder(q ForwardQueue, client *Client, url, secret string, opts ForwarderOptions, log zerolog.Logger) *Forwarder {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Timeout, 10*time.Second)
	def(&opts.Poll, time.Second)
	def(&opts.RetryMin, time.Second)
	def(&opts.RetryMax, 10*time.Minute)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Forwarder{q: q, client: client, url: url, secret: secret, opts: opts, log: log}
}

// Run sends what is due until ctx ends. A database error is logged and tried again at the
// next poll: the relays wait in Postgres meanwhile.
func (f *Forwarder) Run(ctx context.Context) error {
	for {
		if err := f.sendDue(ctx); err != nil && ctx.Err() == nil {
			f.log.Error().Err(err).Msg("forward: cannot read the queue; retrying")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(f.opts.Poll):
		}
	}
}

// sendDue sends every relay due now, in order.
func (f *Forwarder) sendDue(ctx context.Context) error {
	for ctx.Err() == nil {
		due, err := f.q.DueForwards(ctx, f.opts.Now(), 50)
		if err != nil {
			return err
		}
		if len(due) == 0 {
			return nil
		}
		for _, fw := range due {
			if err := f.deliver(ctx, fw); err != nil {
				return err
			}
		}
	}
	return nil
}

// permanent says whether a status means the receiver will never take this body: a 4xx other
// than timeouts and rate limits. Retrying such a relay would only block the queue's log.
func permanent(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests
}

// deliver makes one attempt and records its outcome; the error is the store's only.
func (f *Forwarder) deliver(ctx context.Context, fw store.Forward) error {
	actx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	status, err := f.attempt(actx, fw)
	cancel()
	log := f.log.With().Int64("forward_id", fw.ID).Str("delivery_id", fw.DeliveryID).Int("attempt", fw.Attempts+1).Logger()
	switch {
	case err == nil && status >= 200 && status <= 299:
		log.Debug().Int("status", status).Msg("forward: delivered")
		return f.q.ForwardDelivered(ctx, fw.ID)
	case err == nil && permanent(status):
		why := fmt.Sprintf("the receiver answered %d", status)
		log.Error().Int("status", status).Msg("forward: the receiver refused the message; not retried")
		return f.q.ForwardGiveUp(ctx, fw.ID, f.opts.Now(), why)
	}
	why := fmt.Sprintf("the receiver answered %d", status)
	if err != nil {
		if ctx.Err() != nil {
			return nil // shutting down: the attempt does not count
		}
		why = err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("no answer within %s", f.opts.Timeout)
		}
	}
	next := f.opts.Now().Add(f.backoff(fw.Attempts + 1))
	log.Warn().Str("error", why).Time("next_at", next).Msg("forward: delivery failed; will retry")
	return f.q.ForwardRetry(ctx, fw.ID, next, why)
}

func (f *Forwarder) attempt(ctx context.Context, fw store.Forward) (int, error) {
	h := http.Header{}
	h.Set(DeliveryHeader, fw.DeliveryID)
	resp, err := f.client.post(ctx, f.url, f.secret, fw.Body, h)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, nil
}

// backoff is the wait after the nth failed attempt: RetryMin doubled each time, at most
// RetryMax.
func (f *Forwarder) backoff(n int) time.Duration {
	d := f.opts.RetryMin
	for i := 1; i < n && d < f.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, f.opts.RetryMax)
}
