package bot

import (
	"context"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
)

// TestSenderRestartKeepsWithinLimits restarts the sender right after it sent, with Telegram's
// real limits: the new sender must know what the old one sent in the last second (from the
// send log) and what it may have had in flight (rows it held), or its first sends provoke
// 429s. Telegram's windows outlive a herald process.
func TestSenderRestartKeepsWithinLimits(t *testing.T) {
	tests := []struct {
		name string
		// before runs with no sender: whatever a previous process did.
		before func(t *testing.T, h *harness)
	}{
		{
			name: "acknowledged sends of the previous process",
			before: func(t *testing.T, h *harness) {
				h.start(t)
				enqueueN(t, h.st, []int64{1, 2, -100}, 1)
				waitFor(t, "first messages", func() bool {
					return len(h.tg.Messages(1)) == 1 && len(h.tg.Messages(2)) == 1 && len(h.tg.Messages(-100)) == 1
				})
				waitFor(t, "empty outbox", outboxEmpty(t, h.st))
				h.stopSender()
			},
		},
		{
			name: "a send in flight when the previous process died",
			before: func(t *testing.T, h *harness) {
				// The dead process had claimed a chat's first message and Telegram accepted
				// it, but the process never acknowledged it.
				ctx := context.Background()
				for _, c := range []int64{1, 2, -100} {
					if err := h.st.Enqueue(ctx, store.OutMessage{ChatID: c, Text: "in flight"}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := h.st.ClaimOutbox(ctx, 0, 10); err != nil {
					t.Fatal(err)
				}
				for _, c := range []int64{1, 2, -100} {
					if _, err := h.api.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: c, Text: "in flight"}); err != nil {
						t.Fatal(err)
					}
				}
			},
		},
		{
			name: "a send in flight when the previous process with a lease was killed",
			before: func(t *testing.T, h *harness) {
				// As above, but the claims name a process: its lease connection dies with
				// it, and the new sender takes its rows back at once instead of waiting.
				ctx := context.Background()
				dead, err := h.st.NewLessee(ctx, "dead:1")
				if err != nil {
					t.Fatal(err)
				}
				defer dead.Close(ctx)
				for _, c := range []int64{1, 2, -100} {
					if err := h.st.Enqueue(ctx, store.OutMessage{ChatID: c, Text: "in flight"}); err != nil {
						t.Fatal(err)
					}
				}
				if q, err := h.st.ClaimOutbox(ctx, dead.ID(), 10); err != nil || len(q) != 3 {
					t.Fatalf("claim: %d rows, %v", len(q), err)
				}
				for _, c := range []int64{1, 2, -100} {
					if _, err := h.api.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: c, Text: "in flight"}); err != nil {
						t.Fatal(err)
					}
				}
				var ok bool
				if err := h.st.Pool().QueryRow(ctx, `
					SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
					WHERE locktype = 'advisory' AND granted AND objsubid = 2
						AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
						AND classid::bigint = (hashtext('herald.process')::bigint & 4294967295)
						AND objid::bigint = ($1::bigint & 4294967295)`, dead.ID()).Scan(&ok); err != nil || !ok {
					t.Fatalf("kill the lease connection: %v %v", ok, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, telegramtest.DefaultLimits(), SenderOptions{})
			tt.before(t, h)
			// Restart at once: the chats were written to well under a second ago.
			enqueueN(t, h.st, []int64{1, 2, -100}, 1)
			h.start(t)
			for _, c := range []int64{1, 2, -100} {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				msgs, err := h.tg.WaitMessages(ctx, c, 2)
				cancel()
				if err != nil {
					t.Fatalf("chat %d: %v", c, err)
				}
				if gap := msgs[len(msgs)-1].SentAt.Sub(msgs[len(msgs)-2].SentAt); gap < time.Second {
					t.Errorf("chat %d: two sends %v apart; Telegram allows one a second", c, gap)
				}
			}
			waitFor(t, "empty outbox", outboxEmpty(t, h.st))
			if n := h.tg.Stats().RateLimited; n != 0 {
				t.Errorf("the restarted sender provoked %d 429s", n)
			}
		})
	}
}
