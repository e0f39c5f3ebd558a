package main

// End-to-end tests for issue 8's transport items: what herald does when Telegram's answers,
// the database or the network misbehave.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
)

// A 200 ok:true whose message does not decode is a send: the reply arrives once and the
// chat's next reply is not held up behind it.
func TestE2EUndecodableOKIsSentOnce(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	tg.SetUndecodableResults(true)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/help getid")
	msgs := waitMessages(t, tg, alice.ID, 2)
	if msgs[0].Text != "Your ID is <code>111</code>." || !strings.Contains(msgs[1].Text, "/getid") {
		t.Errorf("replies %q, %q; want the id, then the help", msgs[0].Text, msgs[1].Text)
	}
	if n := tg.Calls("sendMessage"); n != 2 {
		t.Errorf("%d sendMessage calls for 2 replies", n)
	}
}

// In webhook mode herald is ready once the webhook is registered; a registration Telegram
// refused is tried again, and meanwhile /readyz says herald cannot get updates.
func TestE2EReadyzWebhookRegistration(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	tg.FailNext("setWebhook", 0, telegramtest.ServerError())
	tg.FailNext("setWebhook", 0, telegramtest.ServerError())
	h := newHerald(t, heraldOptions{tg: tg, mode: "webhook", secret: "e2e-webhook-secret"})
	h.start()
	if code := readyz(t, h.addr); code != http.StatusServiceUnavailable {
		if u, _ := tg.Webhook(); u == "" { // the third try needs 3s: this is before it
			t.Errorf("/readyz = %d before the webhook is registered; want 503", code)
		}
	}
	waitFor(t, "the webhook registered after two refusals", func() bool { u, _ := tg.Webhook(); return u != "" })
	waitFor(t, "/readyz 200", func() bool { return readyz(t, h.addr) == http.StatusOK })
	if n := tg.Calls("setWebhook"); n != 3 {
		t.Errorf("%d setWebhook calls; want 3 (two refused, one accepted)", n)
	}
}

// /metrics on a listener of its own: the main one no longer serves it.
func TestE2EMetricsListen(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	metrics := freeAddr(t)
	h := newHerald(t, heraldOptions{tg: tg, metricsListen: metrics})
	h.start()
	get := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + metrics + "/metrics"); code != http.StatusOK {
		t.Errorf("/metrics on metrics_listen = %d; want 200", code)
	}
	if code := get("http://" + h.addr + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on listen = %d; want 404 when metrics_listen is set", code)
	}
	if code := get("http://" + h.addr + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
}

// Headers are limited to what a client of herald needs; a request with more is refused.
func TestE2EHeaderLimit(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	req, _ := http.NewRequest(http.MethodGet, "http://"+h.addr+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("200 KB of headers: %d; want 431", resp.StatusCode)
	}
}

// The poller and the sender meet a database error in their first second (a table they read
// at start is not there): they retry instead of ending, and herald answers once the
// database is whole again.
func TestE2EStartupReadsAreRetried(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	if out, code := runBin(t, h.env[len(h.env)-2:], "--config", h.configPath, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	db := dbConn(t, h)
	ctx := context.Background()
	for _, table := range []string{"telegram_offset", "sent_log"} {
		if _, err := db.Exec(ctx, "ALTER TABLE "+table+" RENAME TO "+table+"_hidden"); err != nil {
			t.Fatal(err)
		}
	}
	h.start()
	waitFor(t, "the poller and the sender to retry", func() bool {
		return logged(h, "poller", "at start; retrying") && logged(h, "sender", "at start; retrying")
	})
	for _, table := range []string{"telegram_offset", "sent_log"} {
		if _, err := db.Exec(ctx, "ALTER TABLE "+table+"_hidden RENAME TO "+table); err != nil {
			t.Fatal(err)
		}
	}
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	if msgs := waitMessages(t, tg, alice.ID, 1); msgs[0].Text != "Your ID is <code>111</code>." {
		t.Errorf("/getid = %q", msgs[0].Text)
	}
	if strings.Contains(h.logs.String(), "stopped while herald was running") {
		t.Errorf("a part stopped:\n%s", h.logs.String())
	}
}

// logged says whether herald wrote a JSON log line from part whose message contains msg.
func logged(h *heraldProc, part, msg string) bool {
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var e struct {
			Part    string `json:"part"`
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Part == part && strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}
