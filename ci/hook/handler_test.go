package hook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

// fakeStorage is the store: messages by hook with their keys, delivery ids by connection.
type fakeStorage struct {
	mu         sync.Mutex
	messages   []string
	keys       map[string]bool
	deliveries map[string]bool
	fail       error
}

func newFakeStorage() *fakeStorage {
	return &fakeStorage{keys: map[string]bool{}, deliveries: map[string]bool{}}
}

func (f *fakeStorage) StoreHookMessage(ctx context.Context, hook, key, text string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return false, f.fail
	}
	if key != "" {
		if f.keys[hook+"/"+key] {
			return false, nil
		}
		f.keys[hook+"/"+key] = true
	}
	f.messages = append(f.messages, text)
	return true, nil
}

func (f *fakeStorage) DeliverySeen(ctx context.Context, conn, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deliveries[conn+"/"+id], nil
}

func (f *fakeStorage) RecordDelivery(ctx context.Context, conn, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliveries[conn+"/"+id] = true
	return nil
}

type fakeSink struct {
	mu     sync.Mutex
	events []ci.Event
}

func (s *fakeSink) Deliver(ctx context.Context, ev ci.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	return nil
}

const testSecret = "s3cret-s3cret"

func newTestHandler(t *testing.T) (*httptest.Server, *fakeStorage, *fakeSink) {
	t.Helper()
	msg := compile(t, Config{Name: "allure", Template: `{{.createdBy}} closed <b>{{.launchName}}</b>{{if .bad}}{{.bad.x.y}}{{end}}`,
		Filter: `{{ne .event "launch_created"}}`})
	mon := NewCheck(compile(t, Config{Name: "monitor", Kind: KindCheck, Check: "{{.service}}", Status: "{{.status}}", Dedup: "{{.id}}"}))
	st, sink := newFakeStorage(), &fakeSink{}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{name}", NewHandler([]*Hook{msg, mon.Hook()}, []*Check{mon}, st, sink, clock, zerolog.Nop()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st, sink
}

func post(t *testing.T, srv *httptest.Server, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHandlerAnswers(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "allure_launch_closed.json"))
	if err != nil {
		t.Fatal(err)
	}
	allure := string(raw)
	auth := map[string]string{"Authorization": "Bearer " + testSecret}
	tests := []struct {
		name, path, body string
		header           map[string]string
		status           int
		says             string
	}{
		{"no such hook", "/hooks/nope", allure, auth, 404, "no hook"},
		{"no secret", "/hooks/allure", allure, nil, 401, "unauthorized"},
		{"wrong secret", "/hooks/allure?token=nope", allure, nil, 401, "token is not"},
		{"not JSON", "/hooks/allure", "{nope", auth, 400, "not JSON"},
		{"too large", "/hooks/allure", `{"a":"` + strings.Repeat("x", MaxBody) + `"}`, auth, 413, "larger than"},
		{"filtered", "/hooks/allure", `{"event":"launch_created"}`, auth, 200, "filtered out"},
		{"stored", "/hooks/allure?token=" + testSecret, allure, nil, 202, "stored"},
		{"raw", "/hooks/allure", `{"bad":{"x":"s"}}`, auth, 202, "raw: template, line 1"},
		{"check", "/hooks/monitor", `{"service":"db","status":"critical","id":"1"}`, auth, 202, "stored: db failure"},
		{"check repeated", "/hooks/monitor", `{"service":"db","status":"critical","id":"1"}`, auth, 202, "duplicate"},
		{"check bad status", "/hooks/monitor", `{"service":"db","status":"down","id":"2"}`, auth, 400, `status: "down" is not one of`},
		{"check dedup fails", "/hooks/monitor", `[1]`, auth, 400, "dedup, line 1"},
	}
	srv, st, sink := newTestHandler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, srv, tt.path, tt.body, tt.header)
			if status != tt.status || !strings.Contains(body, tt.says) {
				t.Errorf("answer %d %q, want %d %q", status, body, tt.status, tt.says)
			}
		})
	}
	if len(st.messages) != 2 || st.messages[0] != "qaqa closed <b>Nightly regression &amp; smoke</b>" || !strings.Contains(st.messages[1], "<pre>") {
		t.Errorf("messages = %q", st.messages)
	}
	if len(sink.events) != 1 || sink.events[0].Build.Result != ci.ResultFailure {
		t.Errorf("events = %+v", sink.events)
	}
}

func TestHandlerIdempotencyKey(t *testing.T) {
	srv, st, _ := newTestHandler(t)
	h := map[string]string{"Authorization": "Bearer " + testSecret, "Idempotency-Key": "d-1"}
	for i, want := range []string{"stored", "duplicate"} {
		if status, body := post(t, srv, "/hooks/allure", `{"createdBy":"a","launchName":"b"}`, h); status != 202 || !strings.Contains(body, want) {
			t.Errorf("post %d: %d %q, want 202 %q", i, status, body, want)
		}
	}
	if len(st.messages) != 1 {
		t.Errorf("messages = %q, want one", st.messages)
	}
}

func TestHandlerStoreDown(t *testing.T) {
	srv, st, _ := newTestHandler(t)
	st.fail = errors.New("database down")
	if status, _ := post(t, srv, "/hooks/allure", `{}`, map[string]string{"Authorization": "Bearer " + testSecret}); status != 503 {
		t.Errorf("status %d, want 503", status)
	}
}
