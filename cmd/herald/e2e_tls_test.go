package main

// Webhook mode with no proxy: herald serves HTTPS itself with a self-signed pair that
// `herald gen-cert` wrote, uploads the certificate with setWebhook by itself, and the fake Bot
// API delivers updates trusting that certificate alone, as Telegram does. `herald webhook-info`
// says what Telegram reports, verbatim.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
)

// genCert runs the real `herald gen-cert` into dir.
func genCert(t *testing.T, host, dir string) (certFile, keyFile string) {
	t.Helper()
	out, err := exec.Command(heraldBin, "gen-cert", "--host", host, "--out", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("herald gen-cert: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("PRIVATE KEY")) {
		t.Fatalf("gen-cert printed the key:\n%s", out)
	}
	return filepath.Join(dir, "herald.crt"), filepath.Join(dir, "herald.key")
}

// webhookInfo runs `herald webhook-info` with h's config.
func (h *heraldProc) webhookInfo() (stdout, stderr string, code int) {
	h.t.Helper()
	cmd := exec.Command(heraldBin, "--config", h.configPath, "webhook-info")
	cmd.Env = h.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		h.t.Fatalf("webhook-info: %v", err)
	}
	return o.String(), e.String(), code
}

func TestE2EWebhookOverTLSWithASelfSignedCertificate(t *testing.T) {
	const secret = "e2e-tls-webhook-secret"
	// The fake's clock stands still, so the date of a failed delivery is known to the second.
	t0 := time.Now().UTC().Truncate(time.Second)
	tg := telegramtest.New(telegramtest.Options{Token: testToken, Now: func() time.Time { return t0 }, WebhookRetry: 50 * time.Millisecond})
	t.Cleanup(tg.Close)
	h := newHerald(t, heraldOptions{tg: tg})
	dir := t.TempDir()
	certFile, keyFile := genCert(t, "127.0.0.1", dir)
	hookURL := "https://" + h.addr + "/telegram/webhook"
	cfg := fmt.Sprintf(`telegram:
  token: ${HERALD_E2E_TOKEN}
  api_url: %s
  mode: webhook
  webhook:
    url: %s
    secret_token: %s
database:
  url: ${HERALD_E2E_DB}
http:
  listen: %s
  tls:
    cert_file: %s
    key_file: %s
log:
  level: debug
`, tg.URL(), hookURL, secret, h.addr, certFile, keyFile)
	if err := os.WriteFile(h.configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// check-config: OK, with the warning that Telegram does not post to this port.
	check := exec.Command(heraldBin, "check-config", h.configPath)
	check.Env = h.env
	out, err := check.CombinedOutput()
	if want := fmt.Sprintf("%s:6: warning: telegram.webhook.url has port %s: Telegram posts only to ports 443, 80, 88 and 8443\n%s: OK\n",
		h.configPath, strings.Split(h.addr, ":")[1], h.configPath); err != nil || string(out) != want {
		t.Errorf("check-config = %v\n%s\nwant\n%s", err, out, want)
	}

	h.start()
	waitFor(t, "herald to register its webhook", func() bool { u, _ := tg.Webhook(); return u == hookURL })
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tg.WebhookCertificate(), certPEM) {
		t.Fatalf("herald uploaded %q; want cert_file as gen-cert wrote it", tg.WebhookCertificate())
	}
	if !strings.Contains(h.logs.String(), "http.tls.cert_file is self-signed and telegram.webhook.certificate is not set: uploading cert_file with setWebhook") {
		t.Errorf("herald did not say it uploads cert_file")
	}

	// A command, delivered over HTTPS by a client that trusts only the uploaded certificate.
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	if got := waitMessages(t, tg, alice.ID, 1)[0].Text; got != "Your ID is <code>111</code>." {
		t.Fatalf("/getid over TLS = %q", got)
	}
	waitFor(t, "the update to be acknowledged", func() bool { return tg.Pending() == 0 })

	// /readyz over HTTPS, trusting the same certificate alone.
	roots := x509.NewCertPool()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots.AddCert(c)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	waitFor(t, "/readyz to answer 200 over HTTPS", func() bool {
		resp, err := client.Get("https://" + h.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	healthy := fmt.Sprintf(`url: %s
has_custom_certificate: true
pending_update_count: 0
last_error_date: none
last_error_message: none
last_synchronization_error_date: none
max_connections: 40
ip_address: none
allowed_updates: message, callback_query, my_chat_member
`, hookURL)
	if o, e, code := h.webhookInfo(); o != healthy || e != "" || code != 0 {
		t.Errorf("webhook-info of a healthy webhook = %d\n%s%s\nwant 0\n%s", code, o, e, healthy)
	}

	// SIGHUP with a half-written pair keeps the one in force; updates still arrive.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad pair to be refused", func() bool {
		return strings.Contains(h.logs.String(), "SIGHUP: the new TLS certificate or key does not load; keeping the pair in force")
	})
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	waitMessages(t, tg, alice.ID, 2)

	// A new pair (renewed): herald serves it and uploads it again, and the fake, which now
	// trusts only the new certificate, delivers.
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	genCert(t, "127.0.0.1", dir)
	newPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new certificate to be uploaded", func() bool { return bytes.Equal(tg.WebhookCertificate(), newPEM) })
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	waitMessages(t, tg, alice.ID, 3)
	waitFor(t, "the update to be acknowledged", func() bool { return tg.Pending() == 0 })
	if info := tg.WebhookInfo(); info.LastErrorMessage != "" {
		t.Errorf("a delivery failed after the renewal: %+v", info)
	}

	// herald down: the next delivery fails, and webhook-info says so and exits 1.
	h.stop(syscall.SIGTERM)
	tg.SendText(telegramtest.PrivateChat(alice), alice, "/getid")
	waitFor(t, "the delivery to fail", func() bool { return tg.WebhookInfo().LastErrorMessage != "" })
	failing := fmt.Sprintf(`url: %s
has_custom_certificate: true
pending_update_count: 1
last_error_date: %s
last_error_message: Connection refused
last_synchronization_error_date: none
max_connections: 40
ip_address: none
allowed_updates: message, callback_query, my_chat_member
`, hookURL, t0.Format(time.RFC3339))
	wantErr := fmt.Sprintf("herald: Telegram's last delivery to the webhook failed at %s: Connection refused\n", t0.Format(time.RFC3339))
	if o, e, code := h.webhookInfo(); o != failing || e != wantErr || code != 1 {
		t.Errorf("webhook-info of a failing webhook = %d\n%s%s\nwant 1\n%s%s", code, o, e, failing, wantErr)
	}

	// Another URL in the config than the one Telegram posts to: exit 1, both named.
	other := strings.Replace(cfg, hookURL, "https://herald.example.com/telegram/webhook", 1)
	if err := os.WriteFile(h.configPath, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	wantErr = fmt.Sprintf("herald: Telegram posts to %s, not to telegram.webhook.url (https://herald.example.com/telegram/webhook)\n", hookURL) + wantErr
	if _, e, code := h.webhookInfo(); e != wantErr || code != 1 {
		t.Errorf("webhook-info with another URL = %d %q; want 1 %q", code, e, wantErr)
	}
}
