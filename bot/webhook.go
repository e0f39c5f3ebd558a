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

	"github.com/herald-ci/herald/store"
)

// Webhook receives updates Telegram posts to herald's HTTP server. It answers 200 only once
// the update is stored, so Telegram redelivers anything herald did not keep.
type Webhook struct {
	st      *store.Store
	intake  *Intake
	secret  string
	log     zerolog.Logger
	ctx     context.Context
	refused *logLimiter
}

// NewWebhook returns the handler; ctx bounds the intake submissions it makes.
func NewWebhook(ctx context.Context, st *store.Store, intake *Intake, secret string, log zerolog.Logger) *Webhook {
	return &Webhook{st: st, intake: intake, secret: secret, log: log, ctx: ctx,
		refused: newLogLimiter(time.Minute, time.Now)}
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
		if suppressed, ok := w.refused.allow(); ok {
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
	u, err := decodeUpdate(raw)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	su := store.Update{ID: u.ID, ChatID: chatOf(&u), Payload: raw}
	if err := w.st.SaveUpdate(r.Context(), su); err != nil {
		w.log.Error().Err(err).Int64("update_id", u.ID).Msg("cannot store update; Telegram will redeliver it")
		http.Error(rw, "cannot store the update now", http.StatusServiceUnavailable)
		return
	}
	rw.WriteHeader(http.StatusOK)
	// Handling happens after the answer (Submit only queues): Telegram waits for no reply
	// content, and a slow CI must not make it time out and redeliver.
	w.intake.Submit(w.ctx, su)
}
