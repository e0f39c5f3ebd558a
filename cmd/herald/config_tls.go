package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// TLSConfig is the pair herald serves http.listen with. Both files are read again on SIGHUP
// (tlsreload.go), so a renewed certificate needs no restart.
type TLSConfig struct {
	CertFile     string `yaml:"cert_file"`
	CertFileLine int    `yaml:"-"`
	KeyFile      string `yaml:"key_file"`
	KeyFileLine  int    `yaml:"-"`
	Line         int    `yaml:"-"`
}

// telegramPorts are the only ports Telegram posts webhooks to.
var telegramPorts = map[string]bool{"443": true, "80": true, "88": true, "8443": true}

// updateKinds are the update types Telegram knows (allowed_updates); herald handles
// message, callback_query and my_chat_member.
var updateKinds = map[string]bool{
	"message": true, "edited_message": true, "channel_post": true, "edited_channel_post": true,
	"business_connection": true, "business_message": true, "edited_business_message": true,
	"deleted_business_messages": true, "message_reaction": true, "message_reaction_count": true,
	"inline_query": true, "chosen_inline_result": true, "callback_query": true, "shipping_query": true,
	"pre_checkout_query": true, "purchased_paid_media": true, "poll": true, "poll_answer": true,
	"my_chat_member": true, "chat_member": true, "chat_join_request": true, "chat_boost": true,
	"removed_chat_boost": true,
}

// tlsProblems checks http.tls and the webhook keys setWebhook passes on. The files are read
// now: a pair that does not load would otherwise stop herald at start, after check-config
// said OK.
func (c *Config) tlsProblems() []problem {
	var ps []problem
	add := func(line int, format string, args ...any) {
		ps = append(ps, problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	t := c.HTTP.TLS
	switch {
	case t.CertFile == "" && t.KeyFile == "":
	case t.CertFile == "" || t.KeyFile == "":
		add(t.Line, "http.tls needs both cert_file and key_file (herald gen-cert --host NAME writes a self-signed pair)")
	default:
		if _, err := loadPair(t.CertFile, t.KeyFile); err != nil {
			add(orLine(t.CertFileLine, t.Line), "http.tls: %v", err)
		}
	}
	w := c.Telegram.Webhook
	if w.Certificate != "" {
		if _, err := readCertificatePEM(w.Certificate); err != nil {
			add(orLine(w.CertificateLine, w.Line), "telegram.webhook.certificate: %v", err)
		}
	}
	if w.MaxConnections < 0 || w.MaxConnections > 100 {
		add(orLine(w.MaxConnectionsLine, w.Line), "telegram.webhook.max_connections must be 1-100 (or left out: Telegram's default, 40)")
	}
	if w.IPAddress != "" && net.ParseIP(w.IPAddress) == nil {
		add(orLine(w.IPAddressLine, w.Line), "telegram.webhook.ip_address must be an IP address (Telegram posts to it instead of resolving the URL's host)")
	}
	for i, k := range w.AllowedUpdates {
		if !updateKinds[k] {
			add(lineAt(w.AllowedUpdatesLines, i, w.Line), "telegram.webhook.allowed_updates: unknown update type %q", k)
		}
	}
	return ps
}

func lineAt(lines []int, i, fallback int) int {
	if i < len(lines) {
		return lines[i]
	}
	return fallback
}

// Warnings are settings that load but probably do not work: Telegram posts webhooks only to
// https on port 443, 80, 88 or 8443 (a test server or a proxy may differ, so they are not
// errors), and allowed_updates without a kind herald needs. Each reads "file:line: warning: ...".
func (c *Config) Warnings() []string {
	var out []string
	warn := func(line int, format string, args ...any) {
		msg := "warning: " + fmt.Sprintf(format, args...)
		if line > 0 {
			out = append(out, fmt.Sprintf("%s:%d: %s", c.path, line, msg))
		} else {
			out = append(out, fmt.Sprintf("%s: %s", c.path, msg))
		}
	}
	w := c.Telegram.Webhook
	if c.Telegram.Mode != "webhook" {
		return nil
	}
	line := orLine(w.URLLine, w.Line)
	if u, err := url.Parse(w.URL); err == nil && u.Host != "" {
		if u.Scheme != "https" {
			warn(line, "telegram.webhook.url is %s: Telegram posts only to https (set http.tls, or put a TLS proxy in front)", u.Scheme)
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
		}
		if !telegramPorts[port] {
			warn(line, "telegram.webhook.url has port %s: Telegram posts only to ports 443, 80, 88 and 8443", port)
		}
	}
	if len(w.AllowedUpdates) > 0 {
		set := map[string]bool{}
		for _, k := range w.AllowedUpdates {
			set[k] = true
		}
		for _, k := range []string{"message", "callback_query", "my_chat_member"} {
			if !set[k] {
				warn(lineAt(w.AllowedUpdatesLines, 0, w.Line), "telegram.webhook.allowed_updates leaves out %s, which herald handles", k)
			}
		}
	}
	return out
}

// loadPair loads cert_file and key_file; errors name the files, never their contents.
func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load the pair %s and %s: %w", certFile, keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", certFile, err)
		}
	}
	return &pair, nil
}

// readCertificatePEM reads a file that must hold a PEM certificate (what Telegram takes) and
// no private key: the file is uploaded as it is.
func readCertificatePEM(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read it: %w", errors.Unwrap(err))
	}
	if strings.Contains(string(raw), "PRIVATE KEY") {
		return nil, fmt.Errorf("%s holds a private key; give the certificate alone (the key never leaves this machine)", path)
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s is not a PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return raw, nil
}

// selfSigned says whether a certificate signed itself: Telegram then trusts it only when it
// is uploaded with setWebhook.
func selfSigned(c *x509.Certificate) bool {
	return c != nil && string(c.RawIssuer) == string(c.RawSubject) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// leafPEM is a pair's certificate alone, PEM-encoded, for the upload.
func leafPEM(pair *tls.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Certificate[0]})
}
