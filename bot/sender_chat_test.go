package bot

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
)

func TestSenderPausesBlockedChat(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	ctx := context.Background()
	if _, err := h.st.Pool().Exec(ctx, `INSERT INTO chats (id, type) VALUES (5, 'private'), (6, 'private')`); err != nil {
		t.Fatal(err)
	}
	h.tg.BlockChat(5)
	s := h.start(t)
	enqueueN(t, h.st, []int64{5, 6}, 5)
	wantExactly(t, h.tg, 6, expected(6, 5))
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	paused, err := h.st.PausedChats(ctx)
	if err != nil || len(paused) != 1 || paused[0].ChatID != 5 {
		t.Fatalf("paused = %+v, %v; want chat 5", paused, err)
	}
	if got := h.tg.Stats().Calls["sendMessage"]; got > 6+5 {
		t.Errorf("%d sendMessage calls: a blocked chat must not be hammered", got)
	}
	failed, err := h.st.FailedMessages(ctx, 5, 10)
	if err != nil || len(failed) != 5 {
		t.Errorf("failed messages of the blocked chat: %d, %v; want 5 recorded", len(failed), err)
	}
	if got := counterValue(t, s.Metrics().paused); got != 1 {
		t.Errorf("paused counter %v, want 1", got)
	}
}

func TestSenderFollowsMigration(t *testing.T) {
	tests := []struct {
		name      string
		newExists bool
	}{
		{"to a new chat", false},
		{"to a chat herald already knows", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fastLimits(), fastOptions())
			ctx := context.Background()
			const oldID, newID = -10, -1000010
			if _, err := h.st.Pool().Exec(ctx, `INSERT INTO chats (id, type) VALUES ($1, 'group')`, oldID); err != nil {
				t.Fatal(err)
			}
			if _, err := h.st.Pool().Exec(ctx, `INSERT INTO subscriptions (chat_id, events) VALUES ($1, '{failure}')`, oldID); err != nil {
				t.Fatal(err)
			}
			if tt.newExists {
				if _, err := h.st.Pool().Exec(ctx, `INSERT INTO chats (id, type) VALUES ($1, 'supergroup')`, newID); err != nil {
					t.Fatal(err)
				}
			}
			h.tg.MigrateChat(oldID, newID)
			h.start(t)
			var msgs []store.OutMessage
			var want []string
			for i := range 8 {
				txt := fmt.Sprintf("m%d", i)
				msgs = append(msgs, store.OutMessage{ChatID: oldID, Text: txt})
				want = append(want, txt)
			}
			if err := h.st.Enqueue(ctx, msgs...); err != nil {
				t.Fatal(err)
			}
			wantExactly(t, h.tg, newID, want)
			waitFor(t, "empty outbox", outboxEmpty(t, h.st))
			var n int
			if err := h.st.Pool().QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE chat_id = $1`, newID).Scan(&n); err != nil || n != 1 {
				t.Errorf("subscription moved: %d, %v", n, err)
			}
		})
	}
}

// TestSenderRestartResends is crash safety at the store level: a sender stopped while
// Telegram holds its requests leaves the unacknowledged rows queued, and the next sender
// sends them; nothing is lost and every message arrives at most twice.
func TestSenderRestartResends(t *testing.T) {
	opts := fastOptions()
	opts.SendTimeout = 300 * time.Millisecond
	h := newHarness(t, fastLimits(), opts)
	h.tg.HoldSends(true)
	h.start(t)
	enqueueN(t, h.st, []int64{1, 2, 3}, 4)
	waitFor(t, "held sends", func() bool { return h.tg.Held() > 0 })
	// Stop the sender with its requests held: they time out unrecorded by Telegram, and
	// their rows stay in the outbox, claimed by a sender that is gone.
	h.stopSender()
	h.tg.HoldSends(false)
	if n := h.tg.Stats().Sent; n != 0 {
		t.Fatalf("%d sent while held", n)
	}
	h.opts.SendTimeout = 0
	h.start(t)
	for _, c := range []int64{1, 2, 3} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		_, err := h.tg.WaitMessages(ctx, c, 4)
		cancel()
		if err != nil {
			t.Fatalf("chat %d: %v", c, err)
		}
	}
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	for _, c := range []int64{1, 2, 3} {
		seen := map[string]int{}
		for _, m := range h.tg.Messages(c) {
			seen[m.Text]++
		}
		for i, w := range expected(c, 4) {
			// The head of each chat was in flight (held) when the sender stopped: if the
			// fake had not yet noticed the client leave, it may count once more.
			maxN := 1
			if i == 0 {
				maxN = 2
			}
			if seen[w] < 1 || seen[w] > maxN {
				t.Errorf("chat %d: %q arrived %d times, want 1..%d", c, w, seen[w], maxN)
			}
		}
	}
}

// TestSenderLongOutage is the 30-second Bot API outage at full length, with
// Telegram's real limits: it takes about 40 s, so it runs unless -short.
func TestSenderLongOutage(t *testing.T) {
	if testing.Short() && os.Getenv("HERALD_LONG_TESTS") == "" {
		t.Skip("30 s outage; runs without -short")
	}
	opts := SenderOptions{} // Telegram's limits and the default backoff
	h := newHarness(t, telegramtest.DefaultLimits(), opts)
	chats := []int64{1, 2, -3}
	h.start(t)
	enqueueN(t, h.st, chats, 2)
	for _, c := range chats {
		wantCount(t, h, c, 1)
	}
	h.tg.SetOutage(30 * time.Second)
	enqueueN2 := func() {
		var msgs []store.OutMessage
		for i := 2; i < 5; i++ {
			for _, c := range chats {
				msgs = append(msgs, store.OutMessage{ChatID: c, Text: fmt.Sprintf("m%d to %d", i, c)})
			}
		}
		if err := h.st.Enqueue(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	enqueueN2()
	for _, c := range chats {
		wantExactly(t, h.tg, c, expected(c, 5))
	}
	if st := h.tg.Stats(); st.RateLimited != 0 {
		t.Errorf("%d 429s provoked", st.RateLimited)
	}
}
