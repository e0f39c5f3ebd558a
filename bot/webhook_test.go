package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/commands"
)

// TestWebhookStoresAnUpdateJSONBRefuses: an update whose text holds a lone surrogate escape
// (jsonb refuses it) used to get 503 for ever, so Telegram redelivered it for ever. It is
// stored re-encoded and answered 200, and what is handled is what is stored.
func TestWebhookStoresAnUpdateJSONBRefuses(t *testing.T) {
	handler := handlerMap{"ping": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		return commands.Say("pong " + strings.Join(req.Args, " ")), nil
	}}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	wh := NewWebhook(r.st, r.in, "s3cret", zerolog.New(zerolog.NewTestWriter(t)))
	body := `{"update_id":900000002,"message":{"message_id":1,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"A\u0000"},
		"chat":{"id":42,"type":"private","first_name":"A\u0000"},"text":"/ping \udead","entities":[{"type":"bot_command","offset":0,"length":5}]}}`
	req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(body))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
	rec := httptest.NewRecorder()
	wh.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d (%s), want 200", rec.Code, rec.Body)
	}
	if msgs := waitMessages(t, r.tg, ann.ID, 1); msgs[0].Text != "pong \ufffd" {
		t.Errorf("answer %q, want %q", msgs[0].Text, "pong \ufffd")
	}
	waitFor(t, "every update handled", func() bool { return pendingUpdates(t, r.st) == 0 })
}
