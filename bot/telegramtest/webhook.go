package telegramtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

type webhookState struct {
	url, secret   string
	lastErrorDate int64
	lastErrorMsg  string
	gen           uint64 // bumped by every setWebhook/deleteWebhook
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

// setWebhook accepts http URLs as well as https (Telegram insists on https; the
// tests here have no certificates).
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.bool("drop_pending_updates") {
		s.queue = nil
	}
	if p.has("allowed_updates") {
		s.setAllowedLocked(allowed)
	}
	s.hook = webhookState{url: raw, secret: secret, gen: s.hook.gen + 1}
	if raw == "" {
		s.hook.secret = ""
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) deleteWebhook(_ *http.Request, p params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.bool("drop_pending_updates") {
		s.queue = nil
	}
	s.hook = webhookState{gen: s.hook.gen + 1}
	s.notifyLocked()
	return true, nil
}

func (s *Server) getWebhookInfo(_ *http.Request, _ params) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := struct {
		URL                  string   `json:"url"`
		HasCustomCertificate bool     `json:"has_custom_certificate"`
		PendingUpdateCount   int      `json:"pending_update_count"`
		LastErrorDate        int64    `json:"last_error_date,omitempty"`
		LastErrorMessage     string   `json:"last_error_message,omitempty"`
		MaxConnections       int      `json:"max_connections,omitempty"`
		AllowedUpdates       []string `json:"allowed_updates,omitempty"`
	}{URL: s.hook.url, PendingUpdateCount: len(s.queue),
		LastErrorDate: s.hook.lastErrorDate, LastErrorMessage: s.hook.lastErrorMsg}
	if s.hook.url != "" {
		info.MaxConnections = 40
	}
	for k := range s.allowed {
		info.AllowedUpdates = append(info.AllowedUpdates, k)
	}
	return info, nil
}

// Webhook reports the webhook the bot set, "" if none.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook.url, s.hook.secret
}

// deliverWebhooks POSTs queued updates, oldest first and one at a time, to the
// webhook while one is set. A refused update is retried with growing pauses and
// blocks the ones behind it, so the bot sees updates in order, as with Telegram.
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
			case <-s.closed:
				t.Stop()
				return
			}
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
	resp, err := s.hooks.Do(req)
	if err != nil {
		return errors.New("Connection refused")
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("Wrong response from the webhook: %s", resp.Status)
	}
	return nil
}
