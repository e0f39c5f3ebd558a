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

// An interactive row enqueued behind a backlog is claimed by ClaimInteractive at once, with
// every column the notifier set surviving the round trip; ClaimOutbox later takes the
// backlog without it.
func TestClaimInteractiveAheadOfBacklog(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	var backlog []store.OutMessage
	for i := range 500 {
		backlog = append(backlog, store.OutMessage{ChatID: int64(1000 + i), Text: "n", Priority: store.PriorityProblem,
			GroupKey: "bad", GroupItem: `{"l":"x"}`, AnchorKey: "main/b/main"})
	}
	if err := s.Enqueue(ctx, backlog...); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx,
		store.OutMessage{ChatID: 7, Text: "reply", UpdateID: 42},
		store.OutMessage{ChatID: 8, Text: "edit", Priority: store.PriorityInteractive, ReplyToKey: "k"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimInteractive(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b store.Queued) int { return int(a.ID - b.ID) })
	if len(got) != 2 || got[0].Text != "reply" || got[1].Text != "edit" || !got[0].Interactive() || !got[1].Interactive() ||
		got[1].ReplyToKey != "k" {
		t.Fatalf("ClaimInteractive = %+v; want the reply and the edit, interactive", got)
	}
	rest, err := s.ClaimOutbox(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 500 {
		t.Fatalf("ClaimOutbox took %d rows; want the 500 of the backlog", len(rest))
	}
	q := rest[0]
	if q.Priority != store.PriorityProblem || q.GroupKey != "bad" || q.GroupItem != `{"l":"x"}` || q.AnchorKey != "main/b/main" || q.Interactive() {
		t.Errorf("row came back as %+v; want its priority, group and anchor as enqueued", q)
	}
}

// AckDelivered keeps what later rows need: the anchor a problem leaves (dropped once its
// recovery went out) and the group the rows became.
func TestAckDeliveredAnchorsAndGroups(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.Enqueue(ctx,
		store.OutMessage{ChatID: -5, ThreadID: 3, Text: "p1", AnchorKey: "main/a/main", GroupKey: "bad"},
		store.OutMessage{ChatID: -5, ThreadID: 3, Text: "p2", AnchorKey: "main/b/main", GroupKey: "bad"},
	); err != nil {
		t.Fatal(err)
	}
	rows, err := s.ClaimOutbox(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := &store.Group{ChatID: -5, ThreadID: 3, Key: "bad", MessageID: 11, OpenedAt: opened, UpdatedAt: opened.Add(time.Second),
		Members: []byte(`[{"l":"a"},{"l":"b"}]`)}
	if err := s.AckDelivered(ctx, store.Delivered{Rows: rows, MessageID: 11, SentAt: opened, Group: g}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("%d rows left after the ack; want none", n)
	}
	for _, k := range []string{"main/a/main", "main/b/main"} {
		if id, err := s.ReplyAnchor(ctx, -5, 3, k); err != nil || id != 11 {
			t.Errorf("ReplyAnchor(%s) = %d, %v; want 11", k, id, err)
		}
	}
	got, err := s.MessageGroup(ctx, -5, 3, "bad")
	if err != nil || got.MessageID != 11 || !got.OpenedAt.Equal(opened) || !got.UpdatedAt.Equal(opened.Add(time.Second)) || string(got.Members) != `[{"l": "a"}, {"l": "b"}]` {
		t.Errorf("MessageGroup = %+v (%s), %v; want message 11 opened at %v", got, got.Members, err, opened)
	}
	if _, err := s.MessageGroup(ctx, -5, 0, "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another topic's group: %v; want ErrNotFound", err)
	}

	if err := s.Enqueue(ctx, store.OutMessage{ChatID: -5, ThreadID: 3, Text: "r", ReplyToKey: "main/a/main"}); err != nil {
		t.Fatal(err)
	}
	rows, err = s.ClaimOutbox(ctx, 0, 10)
	if err != nil || len(rows) != 1 {
		t.Fatalf("claim the recovery: %v %v", rows, err)
	}
	if err := s.AckDelivered(ctx, store.Delivered{Rows: rows, MessageID: 12, SentAt: opened}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplyAnchor(ctx, -5, 3, "main/a/main"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the answered anchor: %v; want it gone", err)
	}
	if _, err := s.ReplyAnchor(ctx, -5, 3, "main/b/main"); err != nil {
		t.Errorf("the other anchor: %v; want it kept", err)
	}
	if err := s.PruneGroups(ctx, opened.Add(time.Second), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MessageGroup(ctx, -5, 3, "bad"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pruned group: %v; want ErrNotFound", err)
	}
	if _, err := s.ReplyAnchor(ctx, -5, 3, "main/b/main"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pruned anchor: %v; want ErrNotFound", err)
	}
}
