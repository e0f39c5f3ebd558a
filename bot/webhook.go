package bot

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// Webhook receives updates Telegram posts to herald's HTTP server. It answers 200 only once
// the update is stored, so Telegram redelivers anything herald did not keep.
type Webhook struct {
	st     *store.Store
	intake *Intake
	secret string
	log    zerolog.Logger
	ctx    context.Context
}

// NewWebhook returns the handler; ctx bounds the intake submissions it makes.
func NewWebhook(ctx context.Context, st *store.Store, intake *Intake, secret string, log zerolog.Logger) *Webhook {
	return &Webhook{st: st, intake: intake, secret: secret, log: log, ctx: ctx}
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
		w.log.Warn().Str("remote", r.RemoteAddr).Msg("webhook request without the right secret token refused")
		http.Error(rw, "missing or wrong X-Telegram-Bot-Api-Secret-Token", http.StatusUnauthorized)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err != nil {
		http.Error(rw, "body too large or unreadable", http.StatusBadRequest)
		return
	}
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
	// Handling happens after the answer: Telegram waits for no reply content, and a slow CI
	// must not make it time out and redeliver.
	go w.intake.Submit(w.ctx, su)
}
