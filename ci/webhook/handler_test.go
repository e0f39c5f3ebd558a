package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

// fakeParser answers with its function; it counts calls so a test can see it was never
// reached.
type fakeParser struct {
	parse func(h http.Header, body []byte) (ci.Delivery, error)
	calls int
}

func (p *fakeParser) ParseWebhook(h http.Header, body []byte) (ci.Delivery, error) {
	p.calls++
	return p.parse(h, body)
}

// fakeSink stores events by key, like the notifier, or fails with err.
type fakeSink struct {
	mu     sync.Mutex
	err    error
	events []ci.Event
	keys   map[string]bool
}

func (s *fakeSink) Deliver(_ context.Context, ev ci.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	if !s.keys[ev.Key()] {
		s.keys[ev.Key()] = true
		s.events = append(s.events, ev)
	}
	return nil
}

// fakeDeliveries remembers ids in memory, or fails with seenErr / recordErr.
type fakeDeliveries struct {
	ids       map[string]bool
	seenErr   error
	recordErr error
}

func (d *fakeDeliveries) DeliverySeen(_ context.Context, conn, id string) (bool, error) {
	if d.seenErr != nil {
		return false, d.seenErr
	}
	return d.ids[conn+"/"+id], nil
}

func (d *fakeDeliveries) RecordDelivery(_ context.Context, conn, id string) error {
	if d.recordErr != nil {
		return d.recordErr
	}
	if d.ids == nil {
		d.ids = map[string]bool{}
	}
	d.ids[conn+"/"+id] = true
	return nil
}

func finished(id string) ci.Event {
	return ci.Event{Conn: "gh", Kind: ci.KindFinished, At: time.Unix(1700000000, 0),
		Build: &ci.Build{ID: id, Builder: "CI", Number: 7, Result: ci.ResultFailure, Complete: true}}
}

// signedParser checks the header X-Sig = "good" before it reads the body, like a real one.
func signedParser(d ci.Delivery, parseErr error) *fakeParser {
	return &fakeParser{parse: func(h http.Header, body []byte) (ci.Delivery, error) {
		switch h.Get("X-Sig") {
		case "":
			return ci.Delivery{}, ci.BadSignature("no X-Sig header")
		case "good":
		default:
			return ci.Delivery{}, ci.BadSignature("X-Sig does not match the body")
		}
		if parseErr != nil {
			return ci.Delivery{}, parseErr
		}
		return d, nil
	}}
}

func newHandler(parsers map[string]ci.WebhookParser, sink ci.EventSink, del Deliveries, log *bytes.Buffer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /ci/{conn}/webhook", New(parsers, sink, del, Options{MaxBody: 1000}, zerolog.New(log)))
	return mux
}

func post(h http.Handler, path, sig, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if sig != "" {
		r.Header.Set("X-Sig", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerAnswers(t *testing.T) {
	two := ci.Delivery{ID: "d1", Events: []ci.Event{finished("1"), finished("2")}}
	tests := []struct {
		name       string
		parser     *fakeParser
		sink       *fakeSink
		deliveries *fakeDeliveries
		path, sig  string
		body       string
		wantStatus int
		wantBody   string
		wantEvents int
		wantParsed bool // the parser was called
		wantIDs    int  // delivery ids recorded
	}{
		{name: "stored", parser: signedParser(two, nil), path: "/ci/gh/webhook", sig: "good",
			wantStatus: 200, wantBody: "ok: 2 events stored\n", wantEvents: 2, wantParsed: true, wantIDs: 1},
		{name: "unknown connection", parser: signedParser(two, nil), path: "/ci/other/webhook", sig: "good",
			wantStatus: 404, wantBody: "no CI connection of that name takes webhooks\n"},
		{name: "no signature", parser: signedParser(two, nil), path: "/ci/gh/webhook",
			wantStatus: 401, wantBody: "bad signature: no X-Sig header\n", wantParsed: true},
		{name: "wrong signature", parser: signedParser(two, nil), path: "/ci/gh/webhook", sig: "forged",
			wantStatus: 401, wantBody: "bad signature: X-Sig does not match the body\n", wantParsed: true},
		{name: "ignored", parser: signedParser(ci.Delivery{}, ci.IgnoreEvent("ping")), path: "/ci/gh/webhook", sig: "good",
			wantStatus: 200, wantBody: "ignored: ping\n", wantParsed: true},
		{name: "ignored by a wrapped sentinel", parser: signedParser(ci.Delivery{}, fmt.Errorf("gh: %w", ci.ErrIgnoreEvent)), path: "/ci/gh/webhook", sig: "good",
			wantStatus: 200, wantBody: "ignored: gh: ci: webhook event ignored\n", wantParsed: true},
		{name: "malformed", parser: signedParser(ci.Delivery{}, errors.New("github: workflow_run: unexpected end of JSON input")), path: "/ci/gh/webhook", sig: "good",
			wantStatus: 400, wantBody: "malformed delivery: github: workflow_run: unexpected end of JSON input\n", wantParsed: true},
		{name: "too large", parser: signedParser(two, nil), path: "/ci/gh/webhook", sig: "good", body: strings.Repeat("x", 1001),
			wantStatus: 413, wantBody: "body larger than 1000 bytes\n"},
		{name: "as large as allowed", parser: signedParser(two, nil), path: "/ci/gh/webhook", sig: "good", body: strings.Repeat("x", 1000),
			wantStatus: 200, wantBody: "ok: 2 events stored\n", wantEvents: 2, wantParsed: true, wantIDs: 1},
		{name: "redelivery", parser: signedParser(two, nil), deliveries: &fakeDeliveries{ids: map[string]bool{"gh/d1": true}}, path: "/ci/gh/webhook", sig: "good",
			wantStatus: 200, wantBody: "duplicate delivery\n", wantParsed: true, wantIDs: 1},
		{name: "sink fails", parser: signedParser(two, nil), sink: &fakeSink{err: errors.New("store: begin: connection refused")}, path: "/ci/gh/webhook", sig: "good",
			wantStatus: 503, wantBody: "cannot store the delivery now; deliver it again later\n", wantParsed: true},
		{name: "delivery ids unreadable", parser: signedParser(two, nil), deliveries: &fakeDeliveries{seenErr: errors.New("store: connection refused")}, path: "/ci/gh/webhook", sig: "good",
			wantStatus: 503, wantBody: "cannot store the delivery now; deliver it again later\n", wantParsed: true},
		// The events are stored; only the id is not: still 200, a redelivery changes nothing.
		{name: "id not recorded", parser: signedParser(two, nil), deliveries: &fakeDeliveries{recordErr: errors.New("store: connection refused")}, path: "/ci/gh/webhook", sig: "good",
			wantStatus: 200, wantBody: "ok: 2 events stored\n", wantEvents: 2, wantParsed: true},
		{name: "no delivery id", parser: signedParser(ci.Delivery{Events: []ci.Event{finished("1")}}, nil), path: "/ci/gh/webhook", sig: "good",
			wantStatus: 200, wantBody: "ok: 1 events stored\n", wantEvents: 1, wantParsed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sink == nil {
				tt.sink = &fakeSink{}
			}
			if tt.deliveries == nil {
				tt.deliveries = &fakeDeliveries{}
			}
			var log bytes.Buffer
			h := newHandler(map[string]ci.WebhookParser{"gh": tt.parser}, tt.sink, tt.deliveries, &log)
			w := post(h, tt.path, tt.sig, tt.body)
			if w.Code != tt.wantStatus || w.Body.String() != tt.wantBody {
				t.Errorf("answer %d %q; want %d %q", w.Code, w.Body.String(), tt.wantStatus, tt.wantBody)
			}
			if len(tt.sink.events) != tt.wantEvents {
				t.Errorf("%d events delivered; want %d", len(tt.sink.events), tt.wantEvents)
			}
			if (tt.parser.calls > 0) != tt.wantParsed {
				t.Errorf("parser called %d times; want called: %v", tt.parser.calls, tt.wantParsed)
			}
			if len(tt.deliveries.ids) != tt.wantIDs {
				t.Errorf("%d delivery ids recorded; want %d", len(tt.deliveries.ids), tt.wantIDs)
			}
			if strings.Contains(log.String(), "good") {
				t.Errorf("the log shows the signature: %s", log.String())
			}
		})
	}
}

// The same delivery twice, and a different delivery of the same event: one event stored,
// the second delivery answered without reaching the sink.
func TestHandlerRedeliveryAddsNothing(t *testing.T) {
	sink, del := &fakeSink{}, &fakeDeliveries{}
	first := ci.Delivery{ID: "d1", Events: []ci.Event{finished("1")}}
	h := newHandler(map[string]ci.WebhookParser{"gh": signedParser(first, nil)}, sink, del, &bytes.Buffer{})
	if w := post(h, "/ci/gh/webhook", "good", "{}"); w.Code != 200 {
		t.Fatalf("first delivery: %d %s", w.Code, w.Body)
	}
	if w := post(h, "/ci/gh/webhook", "good", "{}"); w.Code != 200 || w.Body.String() != "duplicate delivery\n" {
		t.Fatalf("redelivery: %d %q", w.Code, w.Body)
	}
	other := ci.Delivery{ID: "d2", Events: []ci.Event{finished("1")}}
	h = newHandler(map[string]ci.WebhookParser{"gh": signedParser(other, nil)}, sink, del, &bytes.Buffer{})
	if w := post(h, "/ci/gh/webhook", "good", "{}"); w.Code != 200 {
		t.Fatalf("same event, new delivery: %d %s", w.Code, w.Body)
	}
	if len(sink.events) != 1 {
		t.Errorf("%d events stored; want 1", len(sink.events))
	}
}

// An event the parser left without a connection gets the one it came in on.
func TestHandlerNamesTheConnection(t *testing.T) {
	ev := finished("1")
	ev.Conn = ""
	sink := &fakeSink{}
	h := newHandler(map[string]ci.WebhookParser{"gh": signedParser(ci.Delivery{Events: []ci.Event{ev}}, nil)}, sink, &fakeDeliveries{}, &bytes.Buffer{})
	if w := post(h, "/ci/gh/webhook", "good", "{}"); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(sink.events) != 1 || sink.events[0].Conn != "gh" {
		t.Errorf("events %+v; want one of connection gh", sink.events)
	}
}

// Forged requests are logged one line a minute with a count of the rest; the clock is the
// test's.
func TestHandlerLogsRefusalsRateLimited(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var log bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("POST /ci/{conn}/webhook", New(map[string]ci.WebhookParser{"gh": signedParser(ci.Delivery{}, nil)}, &fakeSink{}, &fakeDeliveries{},
		Options{Clock: func() time.Time { return now }}, zerolog.New(&log)))
	for range 5 {
		post(mux, "/ci/gh/webhook", "forged-secret", "{}")
	}
	if n := strings.Count(log.String(), "missing or wrong signature"); n != 1 {
		t.Fatalf("%d lines in the first minute; want 1:\n%s", n, log.String())
	}
	now = now.Add(time.Minute)
	post(mux, "/ci/gh/webhook", "forged-secret", "{}")
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"suppressed":4`) || !strings.Contains(lines[1], `"conn":"gh"`) {
		t.Errorf("second line %q; want one naming conn gh and 4 suppressed", lines[len(lines)-1])
	}
	if strings.Contains(log.String(), "forged-secret") {
		t.Errorf("the log shows what was sent as the signature:\n%s", log.String())
	}
}
