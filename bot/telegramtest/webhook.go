package telegramtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

type webhookState struct {
	url, secret   string
	lastErrorDate int64
	lastErrorMsg  string
	gen           uint64 // bumped by every setWebhook/deleteWebhook

	cert           []byte // the uploaded certificate (PEM), nil if none
	ipAddress      string
	maxConnections int
	allowed        []string     // as given, for getWebhookInfo
	client         *http.Client // posts to url, trusting cert alone when one was uploaded
}

func validSecret(s string) bool {
	if len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// setWebhook accepts http URLs as well as https, and any port (Telegram insists on https
// and ports 443, 80, 88 and 8443; tests listen on free ports). The rest is Telegram's: a
// certificate uploaded (multipart, field "certificate") is the only root trusted for the
// deliveries, ip_address is dialled instead of what the host resolves to, max_connections
// is 1-100 (default 40), drop_pending_updates drops the queue, allowed_updates filters.
func (s *Server) setWebhook(_ *http.Request, p params) (any, *apiError) {
	raw := p.str("url")
	secret := p.str("secret_token")
	if raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, badRequest("bad webhook: invalid webhook URL specified")
		}
	}
	if !validSecret(secret) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	var allowed []string
	if err := p.json("allowed_updates", &allowed); err != nil {
		return nil, badRequest("can't parse allowed updates")
	}
	maxConn, ok := p.int64("max_connections")
	switch {
	case !ok:
		return nil, badRequest("invalid max_connections specified")
	case maxConn == 0:
		maxConn = 40
	case maxConn < 1 || maxConn > 100:
		return nil, badRequest("bad webhook: max_connections must be between 1 and 100")
	}
	ip := p.str("ip_address")
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, badRequest("bad webhook: invalid IP address specified")
	}
	var cert []byte
	if _, data, ok := p.upload("certificate"); ok {
		if _, err := parseCertificate(data); err != nil {
			return nil, badRequest("bad webhook: failed to set custom certificate file")
		}
		cert = data
	}
	client, err := webhookClient(cert, ip)
	if err != nil {
		return nil, badRequest("bad webhook: failed to set custom certificate file")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.bool("drop_pending_updates") {
		s.queue = nil
	}
	kinds := s.hook.allowed // not given: the previous setting stays, as in Telegram
	if p.has("allowed_updates") {
		s.setAllowedLocked(allowed)
		kinds = allowed
	}
	s.hook = webhookState{url: raw, secret: secret, gen: s.hook.gen + 1,
		cert: cert, ipAddress: ip, maxConnections: int(maxConn), allowed: kinds, client: client}
	if raw == "" {
		s.hook = webhookState{gen: s.hook.gen, allowed: kinds}
	}
	s.notifyLocked()
	return true, nil
}

// parseCertificate reads the first certificate of a PEM file (what Telegram takes), or of
// DER bytes.
func parseCertificate(data []byte) (*x509.Certificate, error) {
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("telegramtest: certificate: PEM block %q", b.Type)
		}
		data = b.Bytes
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("telegramtest: certificate: %w", err)
	}
	return c, nil
}

// webhookClient posts updates: with a certificate, that certificate is the only root it
// trusts (no InsecureSkipVerify), so a delivery that works proves Telegram would accept
// herald's certificate; without one, the system's roots. ip, if set, is dialled in place of
// whatever the URL's host resolves to, and the certificate is still checked for the host.
func webhookClient(cert []byte, ip string) (*http.Client, error) {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
		DisableKeepAlives:   true, // every delivery dials afresh: a new certificate or address applies at once
	}
	if cert != nil {
		c, err := parseCertificate(cert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AddCert(c)
		tr.TLSClientConfig.RootCAs = pool
	}
	if ip != "" {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, net.JoinHostPort(ip, port))
		}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}, nil
}

func (s *Server) deleteWebhook(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.bool("drop_pending_updates") {
		s.queue = nil
	}
	s.hook = webhookState{gen: s.hook.gen + 1, allowed: s.hook.allowed}
	s.notifyLocked()
	return true, nil
}

// WebhookInfo is what getWebhookInfo answers, as Telegram names its fields.
type WebhookInfo struct {
	URL                          string   `json:"url"`
	HasCustomCertificate         bool     `json:"has_custom_certificate"`
	PendingUpdateCount           int      `json:"pending_update_count"`
	IPAddress                    string   `json:"ip_address,omitempty"`
	LastErrorDate                int64    `json:"last_error_date,omitempty"`
	LastErrorMessage             string   `json:"last_error_message,omitempty"`
	LastSynchronizationErrorDate int64    `json:"last_synchronization_error_date,omitempty"`
	MaxConnections               int      `json:"max_connections,omitempty"`
	AllowedUpdates               []string `json:"allowed_updates,omitempty"`
}

func (s *Server) getWebhookInfo(_ *http.Request, _ params) (any, *apiError) {
	return s.WebhookInfo(), nil
}

// WebhookInfo reports the webhook as getWebhookInfo does.
func (s *Server) WebhookInfo() WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := WebhookInfo{URL: s.hook.url, PendingUpdateCount: len(s.queue),
		HasCustomCertificate: s.hook.cert != nil, IPAddress: s.hook.ipAddress,
		LastErrorDate: s.hook.lastErrorDate, LastErrorMessage: s.hook.lastErrorMsg,
		MaxConnections: s.hook.maxConnections}
	if s.hook.url != "" {
		info.AllowedUpdates = append([]string(nil), s.hook.allowed...)
	}
	return info
}

// Webhook reports the webhook the bot set, "" if none.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook.url, s.hook.secret
}

// WebhookCertificate is the certificate the bot uploaded with setWebhook (PEM as sent), nil
// if none.
func (s *Server) WebhookCertificate() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.hook.cert...)
}

// deliverWebhooks POSTs queued updates, oldest first and one at a time, to the
// webhook while one is set. A refused update is retried with growing pauses and
// blocks the ones behind it, so the bot sees updates in order, as with Telegram.
// (max_connections is reported but one connection is used: order matters more to tests.)
func (s *Server) deliverWebhooks() {
	backoff := time.Duration(0)
	for {
		s.mu.Lock()
		hook := s.hook
		var next queuedUpdate
		have := hook.url != "" && len(s.queue) > 0
		if have {
			next = s.queue[0]
		}
		changed := s.changed
		s.mu.Unlock()

		if !have {
			backoff = 0
			select {
			case <-changed:
				continue
			case <-s.closed:
				return
			}
		}
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-changed: // a new setWebhook is tried at once
			case <-s.closed:
				t.Stop()
				return
			}
			t.Stop()
		}
		err := s.post(hook, next)
		s.mu.Lock()
		if err != nil {
			if s.hook.gen == hook.gen {
				s.hook.lastErrorDate = s.now().Unix()
				s.hook.lastErrorMsg = err.Error()
			}
			s.mu.Unlock()
			backoff = min(max(backoff*2, s.opts.WebhookRetry), 16*s.opts.WebhookRetry)
			continue
		}
		backoff = 0
		if len(s.queue) > 0 && s.queue[0].id == next.id {
			s.queue = s.queue[1:]
		}
		s.fetched = max(s.fetched, next.id)
		s.notifyLocked()
		s.mu.Unlock()
	}
}

// post delivers one update; a non-2xx answer is an error, like a network failure.
// Its errors read like Telegram's last_error_message, capitals included.
func (s *Server) post(hook webhookState, u queuedUpdate) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.url, bytes.NewReader(u.raw))
	if err != nil {
		return fmt.Errorf("telegramtest: webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if hook.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", hook.secret)
	}
	client := hook.client
	if client == nil {
		client = s.hooks
	}
	resp, err := client.Do(req)
	if err != nil {
		return deliveryError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("Wrong response from the webhook: %s", resp.Status)
	}
	return nil
}

// deliveryError words a failed POST the way Telegram's last_error_message does: a
// certificate herald's side cannot prove is "SSL error {...}", anything else a refused
// connection.
func deliveryError(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown), errors.As(err, &invalid):
		return errors.New("SSL error {error:0A000086:SSL routines::certificate verify failed}")
	case errors.As(err, &host):
		return errors.New("SSL error {error:0A000086:SSL routines::certificate verify failed: hostname mismatch}")
	case errors.As(err, &verify):
		return errors.New("SSL error {error:0A000086:SSL routines::certificate verify failed}")
	case errors.As(err, &rec):
		return errors.New("SSL error {error:0A00010B:SSL routines::wrong version number}")
	}
	return errors.New("Connection refused")
}
