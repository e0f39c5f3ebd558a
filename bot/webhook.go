package bot

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci/webhook"
	"github.com/herald-ci/herald/store"
)

// Webhook receives updates Telegram posts to herald's HTTP server. It answers 200 only once
// the update is stored, so Telegram redelivers anything herald did not keep.
type Webhook struct {
	st      *store.Store
	intake  Submitter
	secret  string
	log     zerolog.Logger
	refused *webhook.LogLimiter
}

// NewWebhook returns the handler. Every replica serves it: what it stores reaches the holder
// of the intake through Postgres (store.UpdatesChannel). intake, if not nil, is this
// process's own intake, spared reading it back; it only queues (and after shutdown began,
// the update is handled at the next start, from Postgres).
func NewWebhook(st *store.Store, intake Submitter, secret string, log zerolog.Logger) *Webhook {
	return &Webhook{st: st, intake: intake, secret: secret, log: log,
		refused: webhook.NewLogLimiter(time.Minute, time.Now)}
}

// Register tells Telegram where to post updates.
func Register(ctx context.Context, api *tgbot.Bot, url, secret string) error {
	_, err := api.SetWebhook(ctx, &tgbot.SetWebhookParams{
		URL:            url,
		SecretToken:    secret,
		AllowedUpdates: []string{"message", "callback_query", "my_chat_member"},
	})
	if err != nil {
		return errors.New("bot: setWebhook: " + redactError(err, api.Token()))
	}
	return nil
}

func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(rw, "use POST", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(w.secret)) != 1 {
		// Anyone who finds the URL can send these, as fast as they like: one line a minute
		// says it happens without letting them fill the log.
		if suppressed, ok := w.refused.Allow(); ok {
			w.log.Warn().Str("remote", r.RemoteAddr).Int("suppressed", suppressed).
				Msg("webhook request without the right secret token refused (suppressed: how many more since the last such line)")
		}
		http.Error(rw, "missing or wrong X-Telegram-Bot-Api-Secret-Token", http.StatusUnauthorized)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err != nil {
		http.Error(rw, "body too large or unreadable", http.StatusBadRequest)
		return
	}
	// Only an update without an update_id is refused: anything else is stored and answered
	// 200, and the intake uses what it can read of it. A 400 would make Telegram send the
	// same update again forever.
	su, err := receive(raw)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	// A refused payload is stored re-encoded or as a stub (SaveUpdates): a 503 for it would
	// have Telegram redeliver it, and herald refuse it, for ever.
	ups := []store.Update{su}
	stubbed, err := w.st.SaveUpdates(r.Context(), ups, 0)
	for _, id := range stubbed {
		w.log.Error().Int64("update_id", id).Msg("Postgres refuses this update even cleaned; stored with its id only, and skipped")
	}
	switch {
	case store.IsDataError(err):
		w.log.Error().Err(err).Int64("update_id", su.ID).Msg("Postgres refuses this update; skipped")
		rw.WriteHeader(http.StatusOK)
		return
	case err != nil:
		w.log.Error().Err(err).Int64("update_id", su.ID).Msg("cannot store update; Telegram will redeliver it")
		http.Error(rw, "cannot store the update now", http.StatusServiceUnavailable)
		return
	}
	rw.WriteHeader(http.StatusOK)
	// Handling happens after the answer (Submit only queues): Telegram waits for no reply
	// content, and a slow CI must not make it time out and redeliver.
	if w.intake != nil {
		w.intake.Submit(ups[0])
	}
}
