package bot

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
)

// Telegram answers 200 ok:true with a message go-telegram/bot's types cannot hold (a field
// of another type): it was delivered. Every message goes out once, the chat's next
// messages are not held up, and a card's message id is still read, so its later edit lands.
func TestSenderTakesAnyOKAsSent(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	h.tg.SetUndecodableResults(true)
	chats := []int64{1, 2, -100}
	h.start(t)
	enqueueN(t, h.st, chats, 5)
	const card = int64(7)
	if err := h.st.Enqueue(context.Background(),
		store.OutMessage{ChatID: card, Text: "build 1 started", CardKey: "main/b/1"},
		store.OutMessage{ChatID: card, Text: "build 1 failed", CardKey: "main/b/1", CardOnly: true},
		store.OutMessage{ChatID: card, Text: "after the card"},
	); err != nil {
		t.Fatal(err)
	}
	for _, c := range chats {
		wantExactly(t, h.tg, c, expected(c, 5))
	}
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	got := h.tg.Messages(card)
	if len(got) != 2 || got[0].Text != "build 1 failed" || got[0].Edits != 1 || got[1].Text != "after the card" {
		t.Errorf("card chat: %+v; want the card edited in place, then the next message", got)
	}
	if n := h.tg.Calls("sendMessage"); n != len(chats)*5+2 {
		t.Errorf("%d sendMessage calls for %d messages: something was sent again", n, len(chats)*5+2)
	}
	if n := h.tg.Calls("editMessageText"); n != 1 {
		t.Errorf("%d editMessageText calls; want 1", n)
	}
}

// The attempts a failure log line reports are the attempts made, not the count the row had
// when it was loaded.
func TestSenderLogsTrueAttempts(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	for range 3 {
		h.tg.FailNext("sendMessage", 5, telegramtest.ServerError())
	}
	logs := &lineBuffer{}
	s := NewSender(h.st, h.api, h.opts, zerolog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	enqueueN(t, h.st, []int64{5}, 1)
	wantExactly(t, h.tg, 5, expected(5, 1))
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	var attempts []int
	for _, line := range logs.lines() {
		var e struct {
			Message  string `json:"message"`
			Attempts int    `json:"attempts"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && strings.Contains(e.Message, "send failed, will retry") {
			attempts = append(attempts, e.Attempts)
		}
	}
	if len(attempts) != 3 || attempts[0] != 1 || attempts[1] != 2 || attempts[2] != 3 {
		t.Errorf("logged attempts %v; want [1 2 3]", attempts)
	}
}

// lineBuffer collects log lines from the sender's goroutines.
type lineBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(b.buf.String()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
