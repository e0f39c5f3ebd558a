package actions_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/actions"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// Only plain text in the listed chats is relayed.
func TestRelayBody(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := actions.NewRelay([]int64{-1001}, func() time.Time { return at })
	msg := commands.Request{ChatID: -1001, ChatType: "supergroup", ThreadID: 3, UserID: 42, UserName: "ann", Text: "server 3 is down", MessageID: 8}
	want := `{"text":"server 3 is down","user":{"id":42,"username":"ann"},"chat":{"id":-1001,"type":"supergroup","thread":3},"message_id":8,"at":"2026-12-01T12:00:00Z"}`
	if got := string(r.Body(msg)); got != want {
		t.Fatalf("body\n%s\nwant\n%s", got, want)
	}
	for name, req := range map[string]commands.Request{
		"command":    {ChatID: -1001, Command: "status", Text: "/status"},
		"button":     {ChatID: -1001, Button: &commands.Pressed{Data: "x"}},
		"other chat": {ChatID: -1002, Text: "hello"},
		"no text":    {ChatID: -1001},
	} {
		if b := r.Body(req); b != nil {
			t.Errorf("%s: relayed %s", name, b)
		}
	}
}

// The receiver fails the first attempt and takes the second: the message is delivered, the
// same delivery id and the same signed body both times, and the queue is empty after; a 4xx
// is given up at once.
func TestForwarderRetriesUntilDelivered(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := storetest.New(t)
	var (
		mu       sync.Mutex
		attempts []string // delivery id + " " + body
		fail     = 1
	)
	srv := receiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(string(body), "refused") {
			http.Error(w, "no", http.StatusBadRequest)
			return
		}
		attempts = append(attempts, r.Header.Get(actions.DeliveryHeader)+" "+string(body))
		if fail > 0 {
			fail--
			http.Error(w, "later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	now := time.Now()
	for i, text := range []string{`{"text":"hello"}`, `{"text":"refused"}`} {
		if err := st.InTx(ctx, func(tx *store.Tx) error { return tx.EnqueueForward(ctx, int64(i+1), []byte(text), now) }); err != nil {
			t.Fatal(err)
		}
	}
	f := actions.NewForwarder(st, actions.NewClient(nil, nil, "test"), srv.URL, secret,
		actions.ForwarderOptions{Poll: 20 * time.Millisecond, RetryMin: 50 * time.Millisecond}, zerolog.Nop())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		_, pending, err := st.NextForward(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still pending; attempts %q", attempts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 || attempts[0] != attempts[1] || strings.HasPrefix(attempts[0], " ") || !strings.HasSuffix(attempts[0], ` {"text":"hello"}`) {
		t.Fatalf("attempts %q: want the same delivery id and body twice", attempts)
	}
	var rows int
	if err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM forward_queue WHERE failed_at IS NOT NULL AND last_error = 'the receiver answered 400'`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("given up: %d, %v; want the refused one", rows, err)
	}
}
