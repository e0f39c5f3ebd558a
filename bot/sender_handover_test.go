package bot

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
)

// sendCounter stands between one sender and the fake Bot API and counts the sendMessage
// requests that sender makes: both senders reach the same fake, which keeps one set of
// Telegram's windows for the bot, and the test still knows which process sent.
type sendCounter struct {
	url   string
	sends atomic.Int64
}

func newSendCounter(t *testing.T, target string) *sendCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	c := &sendCounter{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sendMessage") {
			c.sends.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// logTap keeps what a sender logged, for a test that waits for a line.
type logTap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logTap) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logTap) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// runSender runs a sender of its own (one term of the sender role) until stop or the test's
// end; stop returns once Run did.
func runSender(t *testing.T, h *harness, opts SenderOptions, tap *logTap) (stop func()) {
	t.Helper()
	log := zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), tap))
	s := NewSender(h.st, h.api, opts, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sender Run: %v", err)
				}
			case <-time.After(time.Minute):
				t.Errorf("sender did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func gaugeValue(t *testing.T, g interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatalf("read gauge: %v", err)
	}
	return m.GetGauge().GetValue()
}

// TestSenderHandover moves the sender role from one process to another in the middle of a
// burst, with Telegram's real limits: while the old sender runs, the new one sends nothing
// (it waits for the rows the old one holds, so no chat's order is broken), the old one gives
// its rows back when it stops, and the new one sends the rest — every message exactly once,
// in order, and within Telegram's windows, which it learned from the send log.
func TestSenderHandover(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, telegramtest.DefaultLimits(), SenderOptions{})
	one, err := h.st.NewLessee(ctx, "one:1")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close(ctx)
	// Process one holds the sender role while its sender runs, as herald's role runner has
	// it: its claims are live while it does.
	if ok, err := one.TryRole(ctx, store.SenderRole); err != nil || !ok {
		t.Fatalf("TryRole(sender) = %v, %v", ok, err)
	}
	two, err := h.st.NewLessee(ctx, "two:2")
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close(ctx)
	metrics := NewMetrics() // one process's metrics outlive its senders; here both share it
	p1, p2 := newSendCounter(t, h.tg.URL()), newSendCounter(t, h.tg.URL())

	// One a second per chat: sender one needs several seconds for the burst. It holds only
	// part of it at a time, so a sender two that did not wait would find later messages of
	// the same chats unclaimed, and send them ahead of those sender one holds.
	chats := []int64{1, 2, -100}
	const perChat = 8
	enqueueN(t, h.st, chats, perChat)
	stop1 := runSender(t, h, SenderOptions{Process: one.ID(), APIURL: p1.url, Metrics: metrics, MaxInMemory: 2 * len(chats)}, &logTap{})
	waitFor(t, "sender one's first sends", func() bool {
		for _, c := range chats {
			if len(h.tg.Messages(c)) < 1 {
				return false
			}
		}
		return true
	})

	tap2 := &logTap{}
	runSender(t, h, SenderOptions{Process: two.ID(), APIURL: p2.url, Metrics: metrics}, tap2)
	waitFor(t, "sender two to wait for process one", func() bool { return tap2.contains(`"owner_name":"one:1"`) })
	// Sender one goes on sending meanwhile, and sender two still sends nothing.
	waitFor(t, "sender one's next sends", func() bool {
		for _, c := range chats {
			if len(h.tg.Messages(c)) < 3 {
				return false
			}
		}
		return true
	})
	if n := p2.sends.Load(); n != 0 {
		t.Fatalf("sender two sent %d messages while process one was alive and held the rows", n)
	}
	var claimed int
	if err := h.st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE claimed_by = $1`, one.ID()).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	var unclaimed int
	if err := h.st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE NOT claimed`).Scan(&unclaimed); err != nil {
		t.Fatal(err)
	}
	if claimed == 0 || unclaimed == 0 {
		t.Fatalf("sender one holds %d rows and %d are free: the burst is nearly done before the handover; the test proves nothing", claimed, unclaimed)
	}

	stop1() // the role moves; process one runs on
	if err := h.st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE claimed_by = $1`, one.ID()).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 0 {
		t.Errorf("sender one stopped still claiming %d rows; it must give them back", claimed)
	}
	if d := gaugeValue(t, metrics.depth); d != 0 {
		t.Errorf("queue depth %v after sender one stopped (sender two holds nothing yet), want 0", d)
	}

	for _, c := range chats {
		wantExactly(t, h.tg, c, expected(c, perChat))
	}
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	if n := h.tg.Stats().RateLimited; n != 0 {
		t.Errorf("the handover provoked %d 429s", n)
	}
	s1, s2 := p1.sends.Load(), p2.sends.Load()
	if s2 == 0 {
		t.Errorf("sender two sent nothing after the handover")
	}
	if s1+s2 != int64(len(chats)*perChat) {
		t.Errorf("%d + %d sendMessage requests for %d messages: some went twice", s1, s2, len(chats)*perChat)
	}
	waitFor(t, "queue depth back to 0", func() bool { return gaugeValue(t, metrics.depth) == 0 })
}

// TestSenderNextTermInSameProcess: a process that gives up the sender role and takes it
// again makes a new Sender, with the same metrics. That sender does not wait for its own
// process, sends what the earlier term gave back in order and within Telegram's windows, and
// the depth gauge they share ends at 0.
func TestSenderNextTermInSameProcess(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, telegramtest.DefaultLimits(), SenderOptions{})
	one, err := h.st.NewLessee(ctx, "one:1")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close(ctx)
	metrics := NewMetrics()
	opts := SenderOptions{Process: one.ID(), Metrics: metrics}

	chats := []int64{1, -100}
	enqueueN(t, h.st, chats, 4)
	stop := runSender(t, h, opts, &logTap{})
	waitFor(t, "the first term's first sends", func() bool {
		return len(h.tg.Messages(1)) >= 1 && len(h.tg.Messages(-100)) >= 1
	})
	stop()
	if d := gaugeValue(t, metrics.depth); d != 0 {
		t.Errorf("queue depth %v between terms, want 0", d)
	}

	tap := &logTap{}
	log := zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), tap))
	s := NewSender(h.st, h.api, opts, log)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for _, c := range chats {
		wantExactly(t, h.tg, c, expected(c, 4))
	}
	if tap.contains("waiting for the previous sender") {
		t.Errorf("the second term waited for its own process")
	}
	if n := h.tg.Stats().RateLimited; n != 0 {
		t.Errorf("the next term provoked %d 429s", n)
	}
	waitFor(t, "queue depth back to 0", func() bool { return gaugeValue(t, metrics.depth) == 0 })
}
