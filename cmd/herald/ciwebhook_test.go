package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// fakeProvider is a CI that parses webhooks: a body {"id", "event", "build"} signed with
// X-Fake-Signature: sha256=<HMAC-SHA256 of the body with secret>. The rest of ci.Provider
// is nil: the tests that use it never ask.
type fakeProvider struct {
	ci.Provider
	name   string
	secret string
}

func (p *fakeProvider) Name() string { return p.name }
func (p *fakeProvider) Kind() string { return "fake" }

func fakeSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (p *fakeProvider) ParseWebhook(h http.Header, body []byte) (ci.Delivery, error) {
	sig := h.Get("X-Fake-Signature")
	if sig == "" {
		return ci.Delivery{}, ci.BadSignature("no X-Fake-Signature header")
	}
	if !hmac.Equal([]byte(sig), []byte(fakeSign(p.secret, body))) {
		return ci.Delivery{}, ci.BadSignature("X-Fake-Signature does not match the body")
	}
	var d struct {
		ID    string    `json:"id"`
		Event string    `json:"event"`
		Build *ci.Build `json:"build"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return ci.Delivery{}, fmt.Errorf("fake: %w", err)
	}
	switch d.Event {
	case "ping":
		return ci.Delivery{}, ci.IgnoreEvent("ping")
	case "finished":
		d.Build.Conn = p.name
		return ci.Delivery{ID: d.ID, Events: []ci.Event{{Conn: p.name, Kind: ci.KindFinished, Build: d.Build, At: d.Build.FinishedAt}}}, nil
	default:
		return ci.Delivery{}, ci.IgnoreEvent("event " + d.Event + " is not followed")
	}
}

// App serves POST /ci/<conn>/webhook for a connection whose provider parses webhooks: its
// answers, its events stored and notified once however often they come.
func TestAppServesCIWebhooks(t *testing.T) {
	const secret = "hook-secret-5678"
	withProviderType(t, fakeProviderType(func(conn string, s *fakeSection, _ zerolog.Logger) (ci.Provider, error) {
		return &fakeProvider{name: conn, secret: s.WebhookSecret}, nil
	}))
	tg := newFakeTelegram(t, nil)
	const chatID = -1009
	dbURL := storetest.NewURL(t)
	yaml := fmt.Sprintf("telegram:\n  token: %s\n  api_url: %s\n  poll_timeout: 1s\ndatabase:\n  url: %s\nhttp:\n  listen: 127.0.0.1:0\n"+
		"ci:\n  - name: gh\n    type: fake\n    endpoint: https://api.example.org\n    webhook_secret: ${FAKE_WEBHOOK_SECRET}\n"+
		"chats:\n  - id: %d\n    events: [finished]\n", testToken, tg.URL(), dbURL, chatID)
	path := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(map[string]string{"FAKE_WEBHOOK_SECRET": secret})
	cfg, err := LoadConfig(path, env)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	app := &App{Config: cfg, Log: zerolog.New(logs), Getenv: env,
		watch: func(ctx context.Context, _ *store.Store, _ ci.Provider, _ ci.EventSink, _ zerolog.Logger) error {
			<-ctx.Done()
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows the webhook secret")
		}
	})
	waitFor(t, "herald's listener", func() bool { _, ok := app.Addr.Load().(string); return ok })
	base := "http://" + app.Addr.Load().(string)

	post := func(conn, sig, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/ci/"+conn+"/webhook", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if sig != "" {
			req.Header.Set("X-Fake-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	finished := func(delivery string) string {
		return `{"id":"` + delivery + `","event":"finished","build":{"ID":"41","Number":7,"Builder":"CI","Branch":"main",` +
			`"Result":"failure","Complete":true,"FinishedAt":"2026-01-02T03:04:05Z"}}`
	}
	signed := func(body string) string { return fakeSign(secret, []byte(body)) }

	tests := []struct {
		name, conn, sig, body string
		wantStatus            int
		wantBody              string
	}{
		{"unsigned", "gh", "", finished("d1"), 401, "bad signature: no X-Fake-Signature header\n"},
		{"forged", "gh", fakeSign("guess", []byte(finished("d1"))), finished("d1"), 401, "bad signature: X-Fake-Signature does not match the body\n"},
		{"unknown connection", "nope", signed(finished("d1")), finished("d1"), 404, "no CI connection of that name takes webhooks\n"},
		{"ignored", "gh", signed(`{"event":"ping"}`), `{"event":"ping"}`, 200, "ignored: ping\n"},
		{"malformed", "gh", signed(`{"event":`), `{"event":`, 400, "malformed delivery: fake: unexpected end of JSON input\n"},
		{"stored", "gh", signed(finished("d1")), finished("d1"), 200, "ok: 1 events stored\n"},
		{"redelivered", "gh", signed(finished("d1")), finished("d1"), 200, "duplicate delivery\n"},
		{"the same event, another delivery", "gh", signed(finished("d2")), finished("d2"), 200, "ok: 1 events stored\n"},
	}
	for _, tt := range tests {
		if status, body := post(tt.conn, tt.sig, tt.body); status != tt.wantStatus || body != tt.wantBody {
			t.Errorf("%s: answer %d %q; want %d %q", tt.name, status, body, tt.wantStatus, tt.wantBody)
		}
	}

	// Answered 200, the event and what it causes are committed: counted now, not waited for.
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	count := func(query string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM ci_events WHERE conn = 'gh'`); n != 1 {
		t.Errorf("%d events stored; want 1", n)
	}
	if n := count(`SELECT count(*) FROM ci_deliveries WHERE conn = 'gh'`); n != 2 {
		t.Errorf("%d delivery ids stored; want 2 (d1, d2)", n)
	}
	msgs := waitMessages(t, tg, chatID, 1)
	if !strings.Contains(msgs[0].Text, "CI") || !strings.Contains(msgs[0].Text, "7") {
		t.Errorf("notification %q; want builder CI's build 7", msgs[0].Text)
	}
	if n := count(`SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM sent_log)`); n > 1 {
		t.Errorf("%d messages queued or sent; want the one notification", n)
	}
}
