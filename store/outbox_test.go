package store_test

import (
	"context"
	"errors"
	"testing"

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
// acknowledged (the process died) is handed out again after ReleaseClaims, an acknowledged
// one never is, and a rolled-back Enqueue leaves nothing.
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

	got, err := s.ClaimOutbox(ctx, 10)
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
	if more, _ := s.ClaimOutbox(ctx, 10); len(more) != 0 {
		t.Fatalf("claimed rows twice: %d", len(more))
	}
	// "a" was accepted by Telegram, then the process died holding "b" and "c".
	if err := s.AckSent(ctx, got[0], 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AckSent(ctx, got[1], 77); err != nil { // b opened a card
		t.Fatal(err)
	}
	if id, err := s.CardMessage(ctx, 1, 0, "bb/build/1"); err != nil || id != 77 {
		t.Fatalf("card = %d, %v; want 77", id, err)
	}
	if _, err := s.CardMessage(ctx, 1, 0, "other"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown card: %v", err)
	}
	if err := s.ReleaseClaims(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := s.ClaimOutbox(ctx, 10)
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
