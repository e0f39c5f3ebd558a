package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-ci/herald/store/storetest"
)

// A delivery id is seen once recorded, per connection; recording it twice is no error; pruning
// forgets only old ones.
func TestDeliveries(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	seen := func(conn, id string) bool {
		t.Helper()
		ok, err := s.DeliverySeen(ctx, conn, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if seen("gh", "d1") {
		t.Fatal("d1 seen before it was recorded")
	}
	for range 2 {
		if err := s.RecordDelivery(ctx, "gh", "d1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordDelivery(ctx, "gh", "old"); err != nil {
		t.Fatal(err)
	}
	if !seen("gh", "d1") || seen("other", "d1") {
		t.Errorf("seen gh/d1 %v, other/d1 %v; want only gh's", seen("gh", "d1"), seen("other", "d1"))
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE ci_deliveries SET received_at = now() - interval '100 days' WHERE delivery_id = 'old'`); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneDeliveries(ctx, 90*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("PruneDeliveries = %d, %v; want 1 pruned", n, err)
	}
	if seen("gh", "old") || !seen("gh", "d1") {
		t.Errorf("after pruning: old seen %v, d1 seen %v; want only d1", seen("gh", "old"), seen("gh", "d1"))
	}
}
