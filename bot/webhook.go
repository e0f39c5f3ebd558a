package bot

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
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

// Registration is what herald tells Telegram with setWebhook.
type Registration struct {
	URL, Secret string
	// Certificate, if not nil, is uploaded (PEM): Telegram then trusts it for this URL, which
	// is how a self-signed certificate works.
	Certificate        []byte
	IPAddress          string
	MaxConnections     int      // 0: Telegram's default (40)
	DropPendingUpdates bool     // drops what Telegram holds at every registration
	AllowedUpdates     []string // nil: the kinds herald handles
}

// DefaultAllowedUpdates are the kinds of update herald handles; Telegram sends nothing else.
var DefaultAllowedUpdates = []string{"message", "callback_query", "my_chat_member"}

// Register tells Telegram where to post updates.
func Register(ctx context.Context, api *tgbot.Bot, reg Registration) error {
	p := &tgbot.SetWebhookParams{
		URL:                reg.URL,
		SecretToken:        reg.Secret,
		IPAddress:          reg.IPAddress,
		MaxConnections:     reg.MaxConnections,
		DropPendingUpdates: reg.DropPendingUpdates,
		AllowedUpdates:     reg.AllowedUpdates,
	}
	if p.AllowedUpdates == nil {
		p.AllowedUpdates = DefaultAllowedUpdates
	}
	if reg.Certificate != nil {
		p.Certificate = &models.InputFileUpload{Filename: "certificate.pem", Data: bytes.NewReader(reg.Certificate)}
	}
	if _, err := api.SetWebhook(ctx, p); err != nil {
		return errors.New("bot: setWebhook: " + redactError(err, api.Token()))
	}
	return nil
}

// WebhookInfo asks Telegram what it knows of the webhook (getWebhookInfo).
func WebhookInfo(ctx context.Context, api *tgbot.Bot) (*models.WebhookInfo, error) {
	info, err := api.GetWebhookInfo(ctx)
	if err != nil {
		return nil, errors.New("bot: getWebhookInfo: " + redactError(err, api.Token()))
	}
	return info, nil
}

// WebhookErrorWindow is how long a failed delivery Telegram reports keeps herald not ready:
// Telegram keeps last_error_date after it recovers, so an older one says nothing of now.
const WebhookErrorWindow = 10 * time.Minute

// WebhookProblem says what is wrong with the webhook as Telegram reports it, "" if nothing:
// another URL registered (another deployment, or a hand-made setWebhook), or a delivery that
// failed within WebhookErrorWindow before now.
func WebhookProblem(info *models.WebhookInfo, wantURL string, now time.Time) string {
	switch {
	case info.URL != wantURL:
		if info.URL == "" {
			return "Telegram has no webhook registered"
		}
		return "Telegram posts to another URL than telegram.webhook.url"
	case info.LastErrorDate != 0 && now.Sub(time.Unix(int64(info.LastErrorDate), 0)) <= WebhookErrorWindow:
		ago := max(now.Sub(time.Unix(int64(info.LastErrorDate), 0)), 0).Round(time.Second)
		return fmt.Sprintf("Telegram's last delivery failed %s ago: %s", ago, info.LastErrorMessage)
	}
	return ""
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
