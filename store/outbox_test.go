package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func exec(t *testing.T, s *store.Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, s *store.Store, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestOutboxCrashSafety walks the claim/ack life of a row: a claimed row that was never
// acknowledged (the process died; here process 0, which is never alive) is handed out again
// after TakeBackClaims, an acknowledged one never is, and a rolled-back Enqueue leaves nothing.
func TestOutboxCrashSafety(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	msgs := []store.OutMessage{
		{ChatID: 1, Text: "a", ReplyMarkup: []byte(`{"inline_keyboard":[]}`), Silent: true, UpdateID: 9},
		{ChatID: 1, Text: "b", CardKey: "bb/build/1"},
		{ChatID: 2, Text: "c", ThreadID: 5, EditMessageID: 3},
	}
	if err := s.Enqueue(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := s.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.Enqueue(ctx, store.OutMessage{ChatID: 1, Text: "rolled back"}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("InTx: %v", err)
	}

	got, err := s.ClaimOutbox(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("claimed %d rows, want 3 (a rolled-back enqueue must leave nothing)", len(got))
	}
	for i, q := range got {
		w := msgs[i]
		if q.ChatID != w.ChatID || q.Text != w.Text || string(q.ReplyMarkup) != string(w.ReplyMarkup) || q.Silent != w.Silent ||
			q.CardKey != w.CardKey || q.ThreadID != w.ThreadID || q.EditMessageID != w.EditMessageID || q.UpdateID != w.UpdateID {
			t.Errorf("row %d = %+v, want %+v", i, q.OutMessage, w)
		}
	}
	if more, _ := s.ClaimOutbox(ctx, 0, 10); len(more) != 0 {
		t.Fatalf("claimed rows twice: %d", len(more))
	}
	// "a" and "b" were accepted by Telegram, then the process died holding "c".
	sentA, sentB := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 1, 12, 0, 1, 0, time.UTC)
	if err := s.AckSent(ctx, got[1], 77, sentB); err != nil { // b opened a card
		t.Fatal(err)
	}
	if err := s.AckSent(ctx, got[0], 0, sentA); err != nil {
		t.Fatal(err)
	}
	if id, err := s.CardMessage(ctx, 1, 0, "bb/build/1"); err != nil || id != 77 {
		t.Fatalf("card = %d, %v; want 77", id, err)
	}
	if _, err := s.CardMessage(ctx, 1, 0, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown card: %v", err)
	}
	tb, err := s.TakeBackClaims(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tb.Chats, []int64{2}) || tb.Rows != 1 || tb.Waiting() {
		t.Errorf("TakeBackClaims = %+v, want chats [2] (the chat of the unacknowledged c), 1 row, no live owner", tb)
	}
	again, err := s.ClaimOutbox(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Text != "c" {
		t.Fatalf("after restart got %+v, want only the unacknowledged c", again)
	}
	if err := s.RecordAttempt(ctx, again[0].ID, "502"); err != nil {
		t.Fatal(err)
	}
	if err := s.FailOutbox(ctx, again[0].ID, "Bad Request: can't parse entities"); err != nil {
		t.Fatal(err)
	}
	failed, err := s.FailedMessages(ctx, 2, 10)
	if err != nil || len(failed) != 1 || failed[0].Text != "c" || failed[0].Error == "" {
		t.Fatalf("failed = %+v, %v", failed, err)
	}
	if n, _ := s.OutboxDepth(ctx); n != 0 {
		t.Fatalf("depth %d, want 0", n)
	}
}

// TestSendLog checks what a starting sender learns about the last minute: sends come back
// oldest first whatever order they were acknowledged in, only those after since, a dropped
// card edit (zero time) is no send, and pruning keeps the recent ones.
func TestSendLog(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	acks := []struct {
		chat int64
		at   time.Time
	}{{1, at(30)}, {-5, at(10)}, {2, at(50)}, {-5, at(55)}, {3, time.Time{}}}
	for _, a := range acks {
		if err := s.Enqueue(ctx, store.OutMessage{ChatID: a.chat, Text: "x"}); err != nil {
			t.Fatal(err)
		}
		q, err := s.ClaimOutbox(ctx, 0, 1)
		if err != nil || len(q) != 1 {
			t.Fatalf("claim: %v %v", q, err)
		}
		if err := s.AckSent(ctx, q[0], 0, a.at); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		since time.Time
		want  []store.Send
	}{
		{"all, oldest first", at(0), []store.Send{{-5, at(10)}, {1, at(30)}, {2, at(50)}, {-5, at(55)}}},
		{"only after since", at(30), []store.Send{{2, at(50)}, {-5, at(55)}}},
		{"none", at(60), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.RecentSends(ctx, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("RecentSends = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].ChatID != tt.want[i].ChatID || !got[i].At.Equal(tt.want[i].At) {
					t.Errorf("send %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
	n, err := s.PruneSentLog(ctx, at(50))
	if err != nil || n != 2 {
		t.Fatalf("PruneSentLog = %d, %v; want 2 pruned", n, err)
	}
	if left := count(t, s, `SELECT count(*) FROM sent_log`); left != 2 {
		t.Errorf("%d sends left after pruning, want 2", left)
	}
}
