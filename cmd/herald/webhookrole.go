package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
)

// webhookCheckEvery is how often the holder of the webhook role asks getWebhookInfo: a
// delivery error shows within this, and one call every few minutes costs nothing.
var webhookCheckEvery = 5 * time.Minute // a var: a test asks more often

// runWebhook is the webhook role: register with Telegram (retrying until it works: without
// the registration no update arrives, and /readyz says so meanwhile), then watch what
// Telegram reports of its deliveries, at once and every webhookCheckEvery, log each change,
// and keep /readyz failing while a delivery error is at most bot.WebhookErrorWindow old. A
// self-signed certificate herald uploaded by itself is uploaded again when SIGHUP loads a new
// one: Telegram would refuse the new one otherwise.
func (a *App) runWebhook(ctx context.Context, api *tgbot.Bot, health *bot.Health, log zerolog.Logger) error {
	cfg := a.Config
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	register := func() bool {
		for attempt := 1; ; attempt++ {
			reg, auto, err := a.webhookRegistration()
			if err == nil {
				if auto {
					log.Info().Str("cert_file", cfg.HTTP.TLS.CertFile).
						Msg("http.tls.cert_file is self-signed and telegram.webhook.certificate is not set: uploading cert_file with setWebhook so that Telegram trusts it")
				}
				err = bot.Register(ctx, api, reg)
			}
			if err == nil {
				log.Info().Str("url", redactURL(cfg.Telegram.Webhook.URL)).Bool("certificate", reg.Certificate != nil).Msg("webhook registered with Telegram")
				return true
			}
			if ctx.Err() != nil {
				return false
			}
			health.Failed("webhook")
			log.Error().Err(err).Int("attempt", attempt).Msg("cannot register the webhook with Telegram; updates will not arrive until it is; retrying")
			bot.Sleep(ctx, bot.RetryWait(attempt))
		}
	}
	if !register() {
		return nil
	}
	var last *models.WebhookInfo
	check := func() time.Duration {
		info, err := bot.WebhookInfo(ctx, api)
		if err != nil {
			if ctx.Err() == nil {
				health.Failed("webhook")
				log.Warn().Err(err).Msg("cannot ask Telegram how the webhook fares; asking again later")
			}
			return time.Minute
		}
		if webhookChanged(last, info) {
			ev := log.Info()
			if info.LastErrorMessage != "" && (last == nil || last.LastErrorDate != info.LastErrorDate) {
				ev = log.Warn()
			}
			ev.Str("url", redactURL(info.URL)).Bool("has_custom_certificate", info.HasCustomCertificate).
				Int("pending_update_count", info.PendingUpdateCount).Str("last_error_date", unixDate(info.LastErrorDate)).
				Str("last_error_message", info.LastErrorMessage).Int("max_connections", info.MaxConnections).
				Str("ip_address", info.IPAddress).Msg("Telegram's view of the webhook changed")
		}
		last = info
		now := time.Now()
		problem := bot.WebhookProblem(info, cfg.Telegram.Webhook.URL, now)
		if problem == "" {
			health.OK("webhook")
			return webhookCheckEvery
		}
		health.FailedBecause("webhook", problem)
		if info.LastErrorDate != 0 { // look again when the error leaves the window, if sooner
			if until := time.Unix(int64(info.LastErrorDate), 0).Add(bot.WebhookErrorWindow + time.Second).Sub(now); until > 0 && until < webhookCheckEvery {
				return until
			}
		}
		return webhookCheckEvery
	}
	wait := check()
	for {
		var renewed <-chan struct{}
		if a.certs != nil {
			renewed = a.certs.Changed()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-renewed:
			t.Stop()
			if _, auto, _ := a.webhookRegistration(); auto && !register() {
				return nil
			}
		}
		wait = check()
	}
}

// webhookRegistration is the setWebhook call the config asks for. auto says the certificate
// is http.tls.cert_file's, uploaded because it is self-signed and no
// telegram.webhook.certificate is given: a CA-signed one needs no upload.
func (a *App) webhookRegistration() (reg bot.Registration, auto bool, err error) {
	w := a.Config.Telegram.Webhook
	reg = bot.Registration{URL: w.URL, Secret: w.SecretToken, IPAddress: w.IPAddress,
		MaxConnections: w.MaxConnections, DropPendingUpdates: w.DropPendingUpdates, AllowedUpdates: w.AllowedUpdates}
	switch {
	case w.Certificate != "":
		if reg.Certificate, err = readCertificatePEM(w.Certificate); err != nil {
			return reg, false, fmt.Errorf("config: telegram.webhook.certificate: %w", err)
		}
	case a.certs != nil && selfSigned(a.certs.Current().Leaf):
		reg.Certificate, auto = leafPEM(a.certs.Current()), true
	}
	return reg, auto, nil
}

// webhookChanged says whether Telegram's report differs from the last one in what an admin
// acts on; the pending count moves with every update and is left out.
func webhookChanged(last, now *models.WebhookInfo) bool {
	if last == nil {
		return true
	}
	return last.URL != now.URL || last.HasCustomCertificate != now.HasCustomCertificate ||
		last.LastErrorDate != now.LastErrorDate || last.LastErrorMessage != now.LastErrorMessage ||
		last.LastSynchronizationErrorDate != now.LastSynchronizationErrorDate ||
		last.MaxConnections != now.MaxConnections || last.IPAddress != now.IPAddress ||
		!slices.Equal(last.AllowedUpdates, now.AllowedUpdates)
}

// redactURL hides a password in a URL's user info (the seed's webhook URL carries one).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// unixDate is a Telegram date as RFC 3339 UTC, "none" for 0.
func unixDate(sec int) string {
	if sec == 0 {
		return "none"
	}
	return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339)
}
