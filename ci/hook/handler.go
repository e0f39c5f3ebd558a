package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/webhook"
)

// Storage is what the handler stores into; *store.Store implements it.
type Storage interface {
	// StoreHookMessage stores a message hook's message and queues it, in one transaction,
	// to every chat subscribed to the hook. key, when not empty, makes a repeat a no-op:
	// stored is false when key was stored before.
	StoreHookMessage(ctx context.Context, hook, key, text string) (stored bool, err error)
	// The ids of the check deliveries stored, as for CI webhooks (webhook.Deliveries).
	webhook.Deliveries
}

// Handler answers POST /hooks/{name}: 401 without the hook's secret, 413 over MaxBody, 400
// for a body that is not JSON or that the filter, dedup or a check's templates fail on
// (the answer says which template and where), 202 once the message or the check's result
// is stored (a repeat of a stored one is 202 too, and stores nothing). A message template
// that fails on a body delivers the raw event instead, still 202: the tool cannot fix the
// template, and the chat should hear of the event anyway.
type Handler struct {
	hooks  map[string]*Hook
	checks map[string]*Check
	st     Storage
	sink   ci.EventSink // a check's results go where CI events go: the notifier
	now    func() time.Time
	log    zerolog.Logger

	refused, malformed *webhook.LogLimiter
}

// NewHandler serves hooks; checks are the providers of the check hooks among them, whose
// results go to sink (the same ci.EventSink as CI webhooks and followers). now nil is
// time.Now.
func NewHandler(hooks []*Hook, checks []*Check, st Storage, sink ci.EventSink, now func() time.Time, log zerolog.Logger) *Handler {
	if now == nil {
		now = time.Now
	}
	h := &Handler{hooks: map[string]*Hook{}, checks: map[string]*Check{}, st: st, sink: sink, now: now, log: log,
		refused: webhook.NewLogLimiter(time.Minute, now), malformed: webhook.NewLogLimiter(time.Minute, now)}
	for _, k := range hooks {
		h.hooks[k.Name()] = k
	}
	for _, c := range checks {
		h.checks[c.Name()] = c
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	k, ok := h.hooks[name]
	if !ok {
		http.Error(w, "no hook of that name", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if err := k.Authenticate(r.Header, r.URL.Query(), body); err != nil {
		if suppressed, ok := h.refused.Allow(); ok {
			h.log.Warn().Str("hook", name).Str("remote", r.RemoteAddr).Str("reason", ci.Reason(err)).Int("suppressed", suppressed).
				Msg("hook refused: missing or wrong secret (suppressed: how many more since the last such line)")
		}
		http.Error(w, "unauthorized: "+ci.Reason(err), http.StatusUnauthorized)
		return
	}
	data, err := Decode(body)
	if err != nil {
		h.bad(w, name, err)
		return
	}
	key, err := k.DedupKey(r.Header.Get("Idempotency-Key"), data)
	if err != nil {
		h.bad(w, name, err)
		return
	}
	if k.IsCheck() {
		h.serveCheck(w, r.Context(), k, data, key)
		return
	}
	deliver, err := k.Filter(data)
	if err != nil {
		h.bad(w, name, err)
		return
	}
	if !deliver {
		reply(w, http.StatusOK, "filtered out: not delivered")
		return
	}
	msg, terr := k.Message(data)
	if terr != nil {
		h.log.Warn().Str("hook", name).Str("error", terr.Error()).Msg("hook template failed on a body; delivering the raw event instead")
	}
	stored, err := h.st.StoreHookMessage(r.Context(), name, key, msg)
	if err != nil {
		h.unavailable(w, name, err)
		return
	}
	if !stored {
		reply(w, http.StatusAccepted, "duplicate: stored before")
		return
	}
	if terr != nil {
		reply(w, http.StatusAccepted, "stored (raw: "+terr.Error()+")")
		return
	}
	reply(w, http.StatusAccepted, "stored")
}

// serveCheck stores a check's result through the sink, as a CI webhook's events are.
func (h *Handler) serveCheck(w http.ResponseWriter, ctx context.Context, k *Hook, data any, key string) {
	name := k.Name()
	ev, err := k.CheckEvent(data, key, h.now())
	if err != nil {
		h.bad(w, name, err)
		return
	}
	if key != "" {
		seen, err := h.st.DeliverySeen(ctx, name, key)
		if err != nil {
			h.unavailable(w, name, err)
			return
		}
		if seen {
			reply(w, http.StatusAccepted, "duplicate: stored before")
			return
		}
	}
	if err := h.sink.Deliver(ctx, ev); err != nil {
		h.unavailable(w, name, err)
		return
	}
	if key != "" {
		// The result is stored and its id comes from key: a repeat unrecorded here would be
		// the same event, stored once, so a failure costs only that repeat's work.
		if err := h.st.RecordDelivery(ctx, name, key); err != nil {
			h.log.Warn().Err(err).Str("hook", name).Msg("cannot record a check delivery; a repeat of it will be stored again (and change nothing)")
		}
	}
	reply(w, http.StatusAccepted, "stored: "+ev.Build.Builder+" "+string(ev.Build.Result))
}

// bad answers 400 with what is wrong with the body.
func (h *Handler) bad(w http.ResponseWriter, name string, err error) {
	if suppressed, ok := h.malformed.Allow(); ok {
		h.log.Warn().Str("hook", name).Str("error", err.Error()).Int("suppressed", suppressed).
			Msg("hook refused a body (suppressed: how many more since the last such line)")
	}
	http.Error(w, err.Error(), http.StatusBadRequest)
}

// unavailable answers 503: nothing was stored, and the tool may send it again.
func (h *Handler) unavailable(w http.ResponseWriter, name string, err error) {
	h.log.Error().Err(err).Str("hook", name).Msg("cannot store a hook delivery; answered 503")
	http.Error(w, "cannot store the delivery now; send it again later", http.StatusServiceUnavailable)
}

func reply(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text+"\n")
}
