package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/herald-ci/herald/bot"
)

// webhookInfoCommand is `herald webhook-info`: what getWebhookInfo reports, one field a line,
// the seed's "make sure getWebhookInfo doesn't return any SSL errors" as a command a script
// can run. It exits 1 when Telegram posts elsewhere than telegram.webhook.url or reports a
// last error (Telegram keeps that until the next setWebhook), 0 otherwise.
func webhookInfoCommand(configPath string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg, err := LoadConfig(configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	api, err := bot.NewAPI(cfg.Telegram.Token, cfg.Telegram.APIURL, cfg.Telegram.PollTimeout)
	if err != nil {
		fmt.Fprintln(stderr, "herald:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := bot.WebhookInfo(ctx, api)
	if err != nil {
		fmt.Fprintln(stderr, "herald:", err)
		return 1
	}
	fmt.Fprint(stdout, formatWebhookInfo(info))
	code := 0
	if info.URL != cfg.Telegram.Webhook.URL {
		fmt.Fprintf(stderr, "herald: Telegram posts to %s, not to telegram.webhook.url (%s)\n",
			orNone(redactURL(info.URL)), orNone(redactURL(cfg.Telegram.Webhook.URL)))
		code = 1
	}
	if info.LastErrorDate != 0 {
		fmt.Fprintf(stderr, "herald: Telegram's last delivery to the webhook failed at %s: %s\n",
			unixDate(info.LastErrorDate), info.LastErrorMessage)
		code = 1
	}
	return code
}

// formatWebhookInfo is getWebhookInfo's answer as "field: value" lines, Telegram's names.
func formatWebhookInfo(info *models.WebhookInfo) string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, v) }
	line("url", orNone(redactURL(info.URL)))
	line("has_custom_certificate", strconv.FormatBool(info.HasCustomCertificate))
	line("pending_update_count", strconv.Itoa(info.PendingUpdateCount))
	line("last_error_date", unixDate(info.LastErrorDate))
	line("last_error_message", orNone(info.LastErrorMessage))
	line("last_synchronization_error_date", unixDate(info.LastSynchronizationErrorDate))
	line("max_connections", strconv.Itoa(info.MaxConnections))
	line("ip_address", orNone(info.IPAddress))
	line("allowed_updates", orNone(strings.Join(info.AllowedUpdates, ", ")))
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
