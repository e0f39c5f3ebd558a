package telegramtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// hookRecorder is a webhook endpoint that refuses the first `refuse` deliveries.
type hookRecorder struct {
	mu       sync.Mutex
	refuse   int
	attempts int
	got      []int64
	secrets  []string
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(body, &u)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts++
	h.secrets = append(h.secrets, r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
	if h.refuse > 0 {
		h.refuse--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	h.got = append(h.got, u.UpdateID)
}

func (h *hookRecorder) delivered() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.got...)
}

func TestWebhookDelivery(t *testing.T) {
	hook := &hookRecorder{refuse: 2}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	s := newTestServer(t, Options{})

	first := s.SendText(group, ann, "queued before the webhook")
	if r := callJSON(t, s, "setWebhook", map[string]any{"url": hs.URL + "/tg", "secret_token": "s3cr-et_"}); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	if u, sec := s.Webhook(); u != hs.URL+"/tg" || sec != "s3cr-et_" {
		t.Fatalf("Webhook() = %q %q", u, sec)
	}
	second := s.SendText(group, bob, "after")
	_, _ = s.PressButton(group, bob, 1, "x")
	third := second + 1

	waitFor(t, func() bool { return len(hook.delivered()) == 3 })
	got := hook.delivered()
	if got[0] != first || got[1] != second || got[2] != third {
		t.Fatalf("delivered %v, want %d,%d,%d in order", got, first, second, third)
	}
	hook.mu.Lock()
	attempts, secrets := hook.attempts, hook.secrets
	hook.mu.Unlock()
	if attempts != 5 {
		t.Fatalf("attempts = %d, want 5 (two refusals retried)", attempts)
	}
	for _, sec := range secrets {
		if sec != "s3cr-et_" {
			t.Fatalf("secret header %q", sec)
		}
	}
	waitFor(t, func() bool { return s.Pending() == 0 })
	info := decodeResult[struct {
		URL              string `json:"url"`
		Pending          int    `json:"pending_update_count"`
		LastErrorMessage string `json:"last_error_message"`
	}](t, callJSON(t, s, "getWebhookInfo", nil))
	if info.URL != hs.URL+"/tg" || info.Pending != 0 || info.LastErrorMessage == "" {
		t.Fatalf("info = %+v", info)
	}
	if s.FetchedUpdates() != third {
		t.Fatalf("fetched = %d", s.FetchedUpdates())
	}

	// getUpdates is refused while a webhook is set.
	if r := callJSON(t, s, "getUpdates", nil); r.Status != http.StatusConflict || r.Description != conflictWebhook {
		t.Fatalf("getUpdates with webhook: %d %q", r.Status, r.Description)
	}
	if r := callJSON(t, s, "setWebhook", map[string]any{"url": hs.URL, "secret_token": "bad token!"}); r.Status != 400 {
		t.Fatalf("bad secret accepted")
	}
}

func TestDeleteWebhookDropsPending(t *testing.T) {
	s := newTestServer(t, Options{})
	// A webhook nobody listens on: updates stay pending.
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close()
	if r := callJSON(t, s, "setWebhook", map[string]any{"url": url}); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	s.SendText(group, ann, "a")
	s.SendText(group, ann, "b")
	info := decodeResult[struct {
		Pending int `json:"pending_update_count"`
	}](t, callJSON(t, s, "getWebhookInfo", nil))
	if info.Pending != 2 {
		t.Fatalf("pending = %d", info.Pending)
	}
	if r := callJSON(t, s, "deleteWebhook", map[string]any{"drop_pending_updates": true}); !r.OK {
		t.Fatalf("deleteWebhook: %q", r.Description)
	}
	if u, _ := s.Webhook(); u != "" || s.Pending() != 0 {
		t.Fatalf("webhook %q pending %d", u, s.Pending())
	}
	if ups := getUpdates(t, s, nil); len(ups) != 0 {
		t.Fatalf("dropped updates came back: %+v", ups)
	}
}
