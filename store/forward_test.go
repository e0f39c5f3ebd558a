package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// A relay is stored once per update (a handled update retried stores nothing more), waits
// until its next attempt is due, keeps its delivery id across attempts, and leaves the queue
// when delivered or stays, marked, when given up.
func TestForwardQueue(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	enqueue := func(update int64, body string) {
		t.Helper()
		if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.EnqueueForward(ctx, update, []byte(body), t0) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, found, err := s.NextForward(ctx); err != nil || found {
		t.Fatalf("NextForward on an empty queue = %v, %v; want none", found, err)
	}
	enqueue(1, `{"text":"one"}`)
	enqueue(2, `{"text":"two"}`)
	enqueue(1, `{"text":"one again"}`) // the same update: no second row

	due, err := s.DueForwards(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || string(due[0].Body) != `{"text":"one"}` || string(due[1].Body) != `{"text":"two"}` {
		t.Fatalf("due = %+v; want one then two", due)
	}
	if due[0].DeliveryID == "" || due[0].DeliveryID == due[1].DeliveryID {
		t.Fatalf("delivery ids %q, %q: want two different ones", due[0].DeliveryID, due[1].DeliveryID)
	}
	first := due[0]

	if err := s.ForwardRetry(ctx, first.ID, t0.Add(time.Minute), "the receiver answered 500"); err != nil {
		t.Fatal(err)
	}
	if err := s.ForwardGiveUp(ctx, due[1].ID, t0, "the receiver answered 400"); err != nil {
		t.Fatal(err)
	}
	if due, err := s.DueForwards(ctx, t0.Add(59*time.Second), 10); err != nil || len(due) != 0 {
		t.Fatalf("before the retry is due: %+v, %v; want none", due, err)
	}
	if at, found, err := s.NextForward(ctx); err != nil || !found || !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("NextForward = %v, %v, %v; want %v", at, found, err, t0.Add(time.Minute))
	}
	due, err = s.DueForwards(ctx, t0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].ID != first.ID || due[0].DeliveryID != first.DeliveryID || due[0].Attempts != 1 ||
		due[0].LastError != "the receiver answered 500" {
		t.Fatalf("after the retry = %+v; want the first again, same delivery id, 1 attempt", due)
	}
	if err := s.ForwardDelivered(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.NextForward(ctx); err != nil || found {
		t.Fatalf("after delivery NextForward = %v, %v; want none (the given-up one is not pending)", found, err)
	}
	var failed int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM forward_queue WHERE failed_at IS NOT NULL AND last_error <> ''`).Scan(&failed); err != nil || failed != 1 {
		t.Fatalf("given-up rows = %d, %v; want 1 kept with its reason", failed, err)
	}
}
