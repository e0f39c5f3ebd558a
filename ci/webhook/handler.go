// Package webhook is herald's one HTTP handler for the webhooks CI systems post
// (POST /ci/<connection>/webhook). What a delivery means is each provider's (ci.WebhookParser);
// what herald answers is the same for every CI and lives here: 2xx only once the events are
// stored, so the status says exactly whether the delivery took. Some CIs send again what was
// not answered 2xx (GitLab); GitHub does not redeliver on its own, and a delivery refused
// with 503 is found by the provider's next poll instead (ci.ChangeLister).
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

// DefaultMaxBody is the largest body read: GitHub's deliveries are capped at 25 MB but a
// workflow_run is a few tens of kB, and what herald reads it holds in memory whole.
const DefaultMaxBody = 5 << 20

// Deliveries remembers the ids of the deliveries already stored, so a redelivery is answered
// without delivering its events again.
type Deliveries interface {
	// DeliverySeen reports whether the delivery id of conn was recorded.
	DeliverySeen(ctx context.Context, conn, id string) (bool, error)
	// RecordDelivery records the delivery id of conn; recording it twice is no error.
	RecordDelivery(ctx context.Context, conn, id string) error
}

// Options tune a Handler; the zero value is the defaults.
type Options struct {
	MaxBody int64            // bytes; default DefaultMaxBody
	Clock   func() time.Time // for the log limits; default time.Now
}

// Handler answers the webhooks of every connection whose provider parses them. Mount it at
// "POST /ci/{conn}/webhook".
type Handler struct {
	parsers    map[string]ci.WebhookParser
	sink       ci.EventSink
	deliveries Deliveries
	maxBody    int64
	log        zerolog.Logger

	refused   *LogLimiter // bad signatures
	malformed *LogLimiter // bodies the parser cannot read
}

// New returns the handler for parsers (connection name → its provider's parser). Events go to
// sink, the same path as streamed ones; sink must be idempotent by ci.Event.Key.
func New(parsers map[string]ci.WebhookParser, sink ci.EventSink, deliveries Deliveries, opts Options, log zerolog.Logger) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Handler{
		parsers: parsers, sink: sink, deliveries: deliveries, maxBody: opts.MaxBody, log: log,
		refused:   NewLogLimiter(time.Minute, opts.Clock),
		malformed: NewLogLimiter(time.Minute, opts.Clock),
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn := r.PathValue("conn")
	p, ok := h.parsers[conn]
	if !ok {
		http.Error(w, "no CI connection of that name takes webhooks", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", h.maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	d, err := p.ParseWebhook(r.Header, body)
	switch {
	case errors.Is(err, ci.ErrBadSignature):
		// Anyone who finds the URL can post, as fast as they like: one line a minute says it
		// happens without letting them fill the log. The reason is the parser's, which never
		// holds the secret.
		if suppressed, ok := h.refused.Allow(); ok {
			h.log.Warn().Str("conn", conn).Str("remote", r.RemoteAddr).Str("reason", ci.Reason(err)).Int("suppressed", suppressed).
				Msg("CI webhook refused: missing or wrong signature (suppressed: how many more since the last such line)")
		}
		http.Error(w, "bad signature: "+ci.Reason(err), http.StatusUnauthorized)
		return
	case errors.Is(err, ci.ErrIgnoreEvent):
		reply(w, "ignored: "+ci.Reason(err))
		return
	case err != nil:
		// Signed by the CI yet unreadable: a CI that changed its payloads, or a provider bug.
		if suppressed, ok := h.malformed.Allow(); ok {
			h.log.Warn().Str("conn", conn).Str("error", ci.Reason(err)).Int("suppressed", suppressed).
				Msg("CI webhook refused: malformed delivery (suppressed: how many more since the last such line)")
		}
		http.Error(w, "malformed delivery: "+ci.Reason(err), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if d.ID != "" {
		seen, err := h.deliveries.DeliverySeen(ctx, conn, d.ID)
		if err != nil {
			h.unavailable(w, conn, d.ID, err)
			return
		}
		if seen {
			reply(w, "duplicate delivery")
			return
		}
	}
	for _, ev := range d.Events {
		if ev.Conn == "" {
			ev.Conn = conn
		}
		if err := h.sink.Deliver(ctx, ev); err != nil {
			h.unavailable(w, conn, d.ID, err)
			return
		}
	}
	if d.ID != "" {
		// The events are stored: a redelivery would add nothing even unrecorded (they are
		// idempotent by key), so a failure here costs only that redelivery's work.
		if err := h.deliveries.RecordDelivery(ctx, conn, d.ID); err != nil {
			h.log.Warn().Err(err).Str("conn", conn).Str("delivery_id", d.ID).Msg("cannot record a CI webhook delivery; a redelivery of it will be delivered again (and change nothing)")
		}
	}
	h.log.Debug().Str("conn", conn).Str("delivery_id", d.ID).Int("events", len(d.Events)).Msg("CI webhook stored")
	reply(w, fmt.Sprintf("ok: %d events stored", len(d.Events)))
}

// unavailable answers 503, which a CI takes as "deliver again later": nothing of this
// delivery is lost, and what was stored of it is not stored twice.
func (h *Handler) unavailable(w http.ResponseWriter, conn, id string, err error) {
	h.log.Error().Err(err).Str("conn", conn).Str("delivery_id", id).Msg("cannot store a CI webhook delivery; answered 503 so the CI delivers it again")
	http.Error(w, "cannot store the delivery now; deliver it again later", http.StatusServiceUnavailable)
}

func reply(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, text+"\n")
}
