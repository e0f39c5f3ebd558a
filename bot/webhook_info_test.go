package bot

import (
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// What /readyz says of the webhook, from getWebhookInfo: an error counts for
// WebhookErrorWindow, another URL or none at all always.
func TestWebhookProblem(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) int { return int(now.Add(-ago).Unix()) }
	const url = "https://h.example.com/tg"
	for _, tt := range []struct {
		name string
		info models.WebhookInfo
		want string
	}{
		{"healthy", models.WebhookInfo{URL: url}, ""},
		{"recent error", models.WebhookInfo{URL: url, LastErrorDate: at(2 * time.Minute), LastErrorMessage: "Connection refused"},
			"Telegram's last delivery failed 2m0s ago: Connection refused"},
		{"at the window's edge", models.WebhookInfo{URL: url, LastErrorDate: at(WebhookErrorWindow), LastErrorMessage: "x"},
			"Telegram's last delivery failed 10m0s ago: x"},
		{"old error", models.WebhookInfo{URL: url, LastErrorDate: at(WebhookErrorWindow + time.Second), LastErrorMessage: "x"}, ""},
		{"other URL", models.WebhookInfo{URL: "https://elsewhere.example.com/tg"}, "Telegram posts to another URL than telegram.webhook.url"},
		{"none", models.WebhookInfo{}, "Telegram has no webhook registered"},
	} {
		if got := WebhookProblem(&tt.info, url, now); got != tt.want {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
}
