package github_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/webhook"
)

type sinkFunc func(context.Context, ci.Event) error

func (f sinkFunc) Deliver(ctx context.Context, ev ci.Event) error { return f(ctx, ev) }

type memDeliveries map[string]bool

func (m memDeliveries) DeliverySeen(_ context.Context, conn, id string) (bool, error) {
	return m[conn+"/"+id], nil
}

func (m memDeliveries) RecordDelivery(_ context.Context, conn, id string) error {
	m[conn+"/"+id] = true
	return nil
}

// TestThroughHandler posts deliveries to herald's webhook handler with this parser behind
// it, checking the answers GitHub sees.
func TestThroughHandler(t *testing.T) {
	var got []ci.Event
	sink := sinkFunc(func(_ context.Context, ev ci.Event) error { got = append(got, ev); return nil })
	h := webhook.New(map[string]ci.WebhookParser{"gh": newParser()}, sink, memDeliveries{}, webhook.Options{}, zerolog.Nop())
	mux := http.NewServeMux()
	mux.Handle("POST /ci/{conn}/webhook", h)

	post := func(event string, body []byte, sig string) (int, string) {
		hdr := signedHeader(event, body)
		if sig != "" {
			hdr.Set("X-Hub-Signature-256", sig)
		}
		r := httptest.NewRequest(http.MethodPost, "/ci/gh/webhook", strings.NewReader(string(body)))
		r.Header = hdr
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, strings.TrimSpace(string(b))
	}
	done := fixture(t, "workflow_run_completed_failure.json")
	for _, tt := range []struct {
		name, event string
		body        []byte
		sig         string
		code        int
		text        string
	}{
		{"ping", "ping", fixture(t, "ping.json"), "", 200, "ignored: ping"},
		{"completed", "workflow_run", done, "", 200, "ok: 1 events stored"},
		{"redelivery", "workflow_run", done, "", 200, "duplicate delivery"},
		{"wrong signature", "workflow_run", done, sign(done, "guess"), 401, "bad signature: X-Hub-Signature-256 does not match the body"},
		{"malformed", "workflow_run", []byte("{"), "", 400, "malformed delivery: github: workflow_run: unexpected end of JSON input"},
	} {
		code, text := post(tt.event, tt.body, tt.sig)
		if code != tt.code || text != tt.text {
			t.Errorf("%s: answered %d %q, want %d %q", tt.name, code, text, tt.code, tt.text)
		}
	}
	if len(got) != 1 || got[0].Build.ID != "11223345/1" || got[0].Build.Result != ci.ResultFailure {
		t.Errorf("stored %+v, want the one failed build", got)
	}
}
