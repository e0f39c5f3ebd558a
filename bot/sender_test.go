package bot

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

const testToken = "123456:TEST-token-never-logged"

// fastLimits are Telegram's limits scaled up tenfold, so tests push volume quickly while
// the fake still enforces every window.
func fastLimits() *telegramtest.Limits {
	return &telegramtest.Limits{Global: 300, PerChatPerSecond: 10, PerGroupPerMinute: 200}
}

func fastOptions() SenderOptions {
	return SenderOptions{Global: 300, PerChatPerSecond: 10, PerGroupPerMinute: 200,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

type harness struct {
	st   *store.Store
	tg   *telegramtest.Server
	api  *tgbot.Bot
	opts SenderOptions
	stop func()
	done chan error
}

func newHarness(t *testing.T, limits *telegramtest.Limits, opts SenderOptions) *harness {
	t.Helper()
	st := storetest.New(t)
	tg := telegramtest.New(telegramtest.Options{Token: testToken, Limits: limits})
	t.Cleanup(tg.Close)
	api, err := tgbot.New(testToken, tgbot.WithServerURL(tg.URL()), tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(time.Second, &http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatalf("tgbot.New: %v", err)
	}
	h := &harness{st: st, tg: tg, api: api, opts: opts}
	return h
}

// start runs a sender until the test ends or stopSender is called.
func (h *harness) start(t *testing.T) *Sender {
	t.Helper()
	s := NewSender(h.st, h.api, h.opts, zerolog.New(zerolog.NewTestWriter(t)))
	ctx, cancel := context.WithCancel(context.Background())
	h.done = make(chan error, 1)
	go func() { h.done <- s.Run(ctx) }()
	h.stop = func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("sender Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Errorf("sender did not stop")
		}
	}
	t.Cleanup(func() {
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
	})
	return s
}

func (h *harness) stopSender() {
	if h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

func enqueueN(t *testing.T, st *store.Store, chats []int64, n int) {
	t.Helper()
	var msgs []store.OutMessage
	for i := range n {
		for _, c := range chats {
			msgs = append(msgs, store.OutMessage{ChatID: c, Text: fmt.Sprintf("m%d to %d", i, c)})
		}
	}
	if err := st.Enqueue(context.Background(), msgs...); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantExactly checks chat got exactly texts, in order, each once.
func wantExactly(t *testing.T, tg *telegramtest.Server, chat int64, texts []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := tg.WaitMessages(ctx, chat, len(texts)); err != nil {
		t.Fatalf("chat %d: waiting for %d messages: %v (got %d)", chat, len(texts), err, len(tg.Messages(chat)))
	}
	var got []string
	for _, m := range tg.Messages(chat) {
		got = append(got, m.Text)
	}
	if !slices.Equal(got, texts) {
		t.Fatalf("chat %d got\n%q\nwant\n%q", chat, got, texts)
	}
}

func expected(chat int64, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("m%d to %d", i, chat)
	}
	return out
}

func outboxEmpty(t *testing.T, st *store.Store) func() bool {
	return func() bool {
		n, err := st.OutboxDepth(context.Background())
		if err != nil {
			t.Fatalf("depth: %v", err)
		}
		return n == 0
	}
}

func TestSenderDeliversInOrderWithinLimits(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	chats := []int64{1, 2, 3, -100, -200}
	h.start(t)
	enqueueN(t, h.st, chats, 30)
	for _, c := range chats {
		wantExactly(t, h.tg, c, expected(c, 30))
	}
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	if st := h.tg.Stats(); st.RateLimited != 0 {
		t.Errorf("provoked %d 429s; the sender must stay within the limits", st.RateLimited)
	}
}

func TestSenderSurvivesFailures(t *testing.T) {
	tests := []struct {
		name   string
		inject func(tg *telegramtest.Server)
		check  func(t *testing.T, h *harness, s *Sender)
	}{
		{
			name: "injected 429s are obeyed",
			inject: func(tg *telegramtest.Server) {
				for range 3 {
					tg.FailNext("sendMessage", 2, telegramtest.TooManyRequests(1))
				}
				tg.FailNext("sendMessage", 0, telegramtest.TooManyRequests(1))
			},
			check: func(t *testing.T, h *harness, s *Sender) {
				if got := counterValue(t, s.Metrics().rateLimited); got < 4 {
					t.Errorf("rate-limited counter %v, want >= 4", got)
				}
			},
		},
		{
			name: "5xx errors are retried",
			inject: func(tg *telegramtest.Server) {
				for range 5 {
					tg.FailNext("sendMessage", 0, telegramtest.ServerError())
				}
			},
			check: func(t *testing.T, h *harness, s *Sender) {
				if got := counterValue(t, s.Metrics().retried); got < 5 {
					t.Errorf("retried counter %v, want >= 5", got)
				}
			},
		},
		{
			name:   "an outage is waited out",
			inject: func(tg *telegramtest.Server) { tg.SetOutage(3 * time.Second) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fastLimits(), fastOptions())
			chats := []int64{1, 2, 3, -100}
			tt.inject(h.tg)
			s := h.start(t)
			enqueueN(t, h.st, chats, 10)
			for _, c := range chats {
				wantExactly(t, h.tg, c, expected(c, 10))
			}
			waitFor(t, "empty outbox", outboxEmpty(t, h.st))
			if tt.check != nil {
				tt.check(t, h, s)
			}
		})
	}
}
