package bot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// TestWebhookOnAReplicaWithoutTheIntake: every replica serves the webhook, and one that does
// not hold the intake has nobody to hand an update to (nil, or a nil *Intake as a process
// may pass): it stores the update and answers 200, and the replica holding the intake
// handles it, told by Postgres.
func TestWebhookOnAReplicaWithoutTheIntake(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	h.start(t)
	runIntake(t, h, &orderRecorder{}, IntakeOptions{SweepInterval: time.Hour})
	other := otherReplica(t, h.st)
	var none *Intake
	for i, sub := range []Submitter{nil, none} {
		wh := NewWebhook(other, sub, "s3cret", zerolog.New(zerolog.NewTestWriter(t)))
		u := ping(int64(950+i), ann.ID)
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(string(u.Payload)))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP %d (%s), want 200", rec.Code, rec.Body)
		}
		if msgs := waitMessages(t, h.tg, ann.ID, i+1); msgs[i].Text != fmt.Sprintf("pong %d", u.ID) {
			t.Errorf("answer %q; want pong %d", msgs[i].Text, u.ID)
		}
	}
}
