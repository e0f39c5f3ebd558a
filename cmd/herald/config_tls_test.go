package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const tlsTestToken = "123:abc"

// writePair writes a self-signed pair for host into dir, as gen-cert does.
func writePair(t *testing.T, dir, host string) (certFile, keyFile string) {
	t.Helper()
	certPEM, keyPEM, _, err := selfSignedPair(host, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, host+".crt"), filepath.Join(dir, host+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func webhookYAML(url, extraWebhook, httpExtra string) string {
	return "telegram:\n  token: " + tlsTestToken + "\n  mode: webhook\n  webhook:\n    url: " + url +
		"\n    secret_token: s3cret\n" + extraWebhook + "database:\n  url: postgres://x/y\nhttp:\n  listen: 127.0.0.1:8443\n" + httpExtra
}

// Every problem of the TLS and webhook keys at its own line, verbatim; the key's contents
// never appear.
func TestTLSConfigProblems(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "herald.example.com")
	otherCert, _ := writePair(t, dir, "other.example.com")
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"key alone", webhookYAML("https://h.example.com/tg", "", "  tls:\n    key_file: "+key+"\n"), []string{
			`herald.yaml:12: http.tls needs both cert_file and key_file (herald gen-cert --host NAME writes a self-signed pair)`,
		}},
		{"pair that does not match", webhookYAML("https://h.example.com/tg", "", "  tls:\n    cert_file: "+otherCert+"\n    key_file: "+key+"\n"), []string{
			`herald.yaml:12: http.tls: cannot load the pair DIR/other.example.com.crt and DIR/herald.example.com.key: tls: private key does not match public key`,
		}},
		{"missing file", webhookYAML("https://h.example.com/tg", "", "  tls:\n    cert_file: "+missing+"\n    key_file: "+key+"\n"), []string{
			`herald.yaml:12: http.tls: cannot load the pair DIR/missing.pem and DIR/herald.example.com.key: open DIR/missing.pem: no such file or directory`,
		}},
		{"webhook keys", webhookYAML("https://h.example.com/tg",
			"    certificate: "+junk+"\n    max_connections: 101\n    ip_address: 1.2.3\n    allowed_updates: [message, mesage]\n", ""), []string{
			`herald.yaml:7: telegram.webhook.certificate: DIR/junk.pem is not a PEM certificate (-----BEGIN CERTIFICATE-----)`,
			`herald.yaml:8: telegram.webhook.max_connections must be 1-100 (or left out: Telegram's default, 40)`,
			`herald.yaml:9: telegram.webhook.ip_address must be an IP address (Telegram posts to it instead of resolving the URL's host)`,
			`herald.yaml:10: telegram.webhook.allowed_updates: unknown update type "mesage"`,
		}},
		{"the key as the certificate", webhookYAML("https://h.example.com/tg", "    certificate: "+key+"\n", ""), []string{
			`herald.yaml:7: telegram.webhook.certificate: DIR/herald.example.com.key holds a private key; give the certificate alone (the key never leaves this machine)`,
		}},
		{"unknown key", webhookYAML("https://h.example.com/tg", "", "  tls:\n    cert: x\n"), []string{
			`herald.yaml:12: http.tls: unknown key "cert" (known keys: cert_file, key_file)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("herald.yaml", []byte(tt.yaml), testEnv(nil))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v; want a *ConfigError", err)
			}
			got := strings.ReplaceAll(strings.Join(ce.Problems, "\n"), dir, "DIR")
			if want := strings.Join(tt.want, "\n"); got != want {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
			if strings.Contains(got, "PRIVATE KEY-----") {
				t.Errorf("a problem shows the key")
			}
		})
	}
	// The pair that loads, with every webhook key: no problem, and the values as given.
	cfg, err := parseConfig("herald.yaml", []byte(webhookYAML("https://h.example.com:8443/tg",
		"    certificate: "+cert+"\n    max_connections: 100\n    ip_address: 192.0.2.7\n    drop_pending_updates: true\n    allowed_updates: [message, callback_query, my_chat_member]\n",
		"  tls:\n    cert_file: "+cert+"\n    key_file: "+key+"\n")), testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	w := cfg.Telegram.Webhook
	if w.Certificate != cert || w.MaxConnections != 100 || w.IPAddress != "192.0.2.7" || !w.DropPendingUpdates ||
		strings.Join(w.AllowedUpdates, ",") != "message,callback_query,my_chat_member" || cfg.HTTP.TLS.KeyFile != key {
		t.Errorf("decoded %+v %+v", w, cfg.HTTP.TLS)
	}
	if ws := cfg.Warnings(); len(ws) != 0 {
		t.Errorf("warnings for a URL Telegram posts to: %q", ws)
	}
}

// A URL Telegram does not post to loads (a test server or a proxy may differ), with warnings.
func TestWebhookURLWarnings(t *testing.T) {
	for _, tt := range []struct{ url, extra, want string }{
		{"https://h.example.com/tg", "", ""},
		{"https://h.example.com:88/tg", "", ""},
		{"http://h.example.com/tg", "", "herald.yaml:5: warning: telegram.webhook.url is http: Telegram posts only to https (set http.tls, or put a TLS proxy in front)"},
		{"https://h.example.com:8080/tg", "", "herald.yaml:5: warning: telegram.webhook.url has port 8080: Telegram posts only to ports 443, 80, 88 and 8443"},
		{"http://h.example.com:9000/tg", "", "herald.yaml:5: warning: telegram.webhook.url is http: Telegram posts only to https (set http.tls, or put a TLS proxy in front)\n" +
			"herald.yaml:5: warning: telegram.webhook.url has port 9000: Telegram posts only to ports 443, 80, 88 and 8443"},
		{"https://h.example.com/tg", "    allowed_updates: [message]\n", "herald.yaml:7: warning: telegram.webhook.allowed_updates leaves out callback_query, which herald handles\n" +
			"herald.yaml:7: warning: telegram.webhook.allowed_updates leaves out my_chat_member, which herald handles"},
	} {
		cfg, err := parseConfig("herald.yaml", []byte(webhookYAML(tt.url, tt.extra, "")), testEnv(nil))
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if got := strings.Join(cfg.Warnings(), "\n"); got != tt.want {
			t.Errorf("%s: warnings\n%s\nwant\n%s", tt.url, got, tt.want)
		}
	}
}

// gen-cert's output loads as http.tls, is self-signed (so herald uploads it), and verifies for
// its host, and for no other, with itself as the only root: what Telegram checks.
func TestGenCert(t *testing.T) {
	for _, host := range []string{"herald.example.com", "203.0.113.9"} {
		dir := t.TempDir()
		var out, errb strings.Builder
		if code := run([]string{"gen-cert", "--host", host, "--out", dir, "--days", "30"}, &out, &errb, testEnv(nil)); code != 0 {
			t.Fatalf("gen-cert = %d: %s", code, errb.String())
		}
		keyPEM, err := os.ReadFile(filepath.Join(dir, "herald.key"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), string(keyPEM[30:60])) || strings.Contains(out.String(), "PRIVATE KEY-----") {
			t.Errorf("gen-cert printed the key")
		}
		if fi, err := os.Stat(filepath.Join(dir, "herald.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("herald.key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
		}
		pair, err := loadPair(filepath.Join(dir, "herald.crt"), filepath.Join(dir, "herald.key"))
		if err != nil {
			t.Fatal(err)
		}
		leaf := pair.Leaf
		if !selfSigned(leaf) || leaf.Subject.CommonName != host {
			t.Errorf("%s: self-signed %v, CN %q", host, selfSigned(leaf), leaf.Subject.CommonName)
		}
		if d := leaf.NotAfter.Sub(time.Now()); d < 29*24*time.Hour || d > 31*24*time.Hour {
			t.Errorf("%s: valid for %s; want 30 days", host, d)
		}
		b, _ := pem.Decode(leafPEM(pair))
		root, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(root)
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots}); err != nil {
			t.Errorf("%s: does not verify for its host: %v", host, err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "elsewhere.example.com", Roots: roots}); err == nil {
			t.Errorf("%s: verifies for another host", host)
		}
		// A second run does not overwrite the pair in use.
		errb.Reset()
		if code := run([]string{"gen-cert", "--host", host, "--out", dir}, &out, &errb, testEnv(nil)); code != 1 ||
			errb.String() != "herald gen-cert: "+filepath.Join(dir, "herald.key")+" exists already; remove it or choose another --out\n" {
			t.Errorf("second gen-cert = %d %q", code, errb.String())
		}
		if after, _ := os.ReadFile(filepath.Join(dir, "herald.key")); string(after) != string(keyPEM) {
			t.Errorf("the key was overwritten")
		}
	}
	var out, errb strings.Builder
	if code := run([]string{"gen-cert"}, &out, &errb, testEnv(nil)); code != 2 ||
		errb.String() != "herald gen-cert: --host is required: the host name or IP address in telegram.webhook.url\nUsage: herald gen-cert --host NAME [--out DIR] [--days N]\n" {
		t.Errorf("gen-cert without --host = %d %q", code, errb.String())
	}
}

// SIGHUP's reload swaps in a new pair, and a bad one keeps the pair in force.
func TestCertReloaderKeepsThePairOnABadFile(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "herald.example.com")
	r, err := newCertReloader(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Current()
	changed := r.Changed()

	// A half-written renewal: the certificate file is junk.
	if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "cannot load the pair") {
		t.Fatalf("Reload of a bad file = %v; want an error saying so", err)
	}
	got, err := r.TLSConfig().GetCertificate(nil)
	if err != nil || got != first {
		t.Fatalf("after a bad reload the served pair changed (%v)", err)
	}
	select {
	case <-changed:
		t.Fatal("Changed fired for a reload that failed")
	default:
	}

	// The renewal completed: a new pair is served.
	certPEM, keyPEM, _, err := selfSignedPair("herald.example.com", time.Now(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	got, _ = r.TLSConfig().GetCertificate(nil)
	if got == first || string(leafPEM(got)) != string(certPEM) {
		t.Fatal("a good reload did not swap the pair")
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed did not fire for a good reload")
	}
}
