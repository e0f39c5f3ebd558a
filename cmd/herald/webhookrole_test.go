package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/bot/telegramtest"
)

// The webhook role registers with what the config says, then watches getWebhookInfo: a
// delivery error Telegram reports makes /readyz fail with the reason and is logged; once the
// webhook works again and the error is no longer Telegram's last word, herald is ready again.
func TestWebhookRoleReportsDeliveryErrors(t *testing.T) {
	old := webhookCheckEvery
	webhookCheckEvery = 50 * time.Millisecond
	t.Cleanup(func() { webhookCheckEvery = old })

	tg := telegramtest.New(telegramtest.Options{Token: testToken})
	t.Cleanup(tg.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // reserved, then closed: deliveries are refused
	if err != nil {
		t.Fatal(err)
	}
	hookURL := "http://" + ln.Addr().String() + "/tg"
	ln.Close()

	cfg := defaults()
	cfg.Telegram.Mode = "webhook"
	cfg.Telegram.Webhook = WebhookConfig{URL: hookURL, SecretToken: "s3cret", Path: "/tg",
		MaxConnections: 5, IPAddress: "127.0.0.1", AllowedUpdates: []string{"message", "callback_query", "my_chat_member"}}
	logs := &lockedBuffer{}
	a := &App{Config: &cfg, Log: zerolog.New(logs)}
	api, err := bot.NewAPI(testToken, tg.URL(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	health := bot.NewHealth(nil)
	health.Expect("webhook", 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.runWebhook(ctx, api, health, a.Log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runWebhook = %v", err)
		}
	})

	waitFor(t, "the registration", func() bool { u, _ := tg.Webhook(); return u == hookURL })
	if info := tg.WebhookInfo(); info.MaxConnections != 5 || info.IPAddress != "127.0.0.1" || info.HasCustomCertificate {
		t.Errorf("registered %+v; want max_connections 5, ip_address 127.0.0.1, no certificate (plain HTTP)", info)
	}
	waitFor(t, "ready after the registration", func() bool { ok, _ := health.Check(); return ok })

	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	waitFor(t, "/readyz to report the delivery error", func() bool {
		_, problems := health.Check()
		return len(problems) == 1 && strings.HasPrefix(problems[0], "webhook: Telegram's last delivery failed ") &&
			strings.HasSuffix(problems[0], " ago: Connection refused")
	})
	waitFor(t, "the change to be logged", func() bool {
		return strings.Contains(logs.String(), `"last_error_message":"Connection refused"`) &&
			strings.Contains(logs.String(), `"level":"warn"`)
	})

	// Someone registers another URL: not ready, and why.
	if err := bot.Register(ctx, api, bot.Registration{URL: "http://elsewhere.example.com/tg"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz to report the other URL", func() bool {
		_, problems := health.Check()
		return len(problems) == 1 && problems[0] == "webhook: Telegram posts to another URL than telegram.webhook.url"
	})
}
