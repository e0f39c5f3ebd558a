package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store/storetest"
)

// TestStoredAtIsWhenFinishedWasStored: what digests count by is when herald stored the
// build as finished, not when it first heard of it running: a build started a day ago and
// finished now is stored now.
func TestStoredAtIsWhenFinishedWasStored(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	storedAt := func() time.Time {
		t.Helper()
		var at time.Time
		if err := s.Pool().QueryRow(ctx, `SELECT stored_at FROM builds WHERE conn = 'bb' AND build_id = 'b1'`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	record(t, s, started("b1", "docs", "main", 1, 1))
	if _, err := s.Pool().Exec(ctx, `UPDATE builds SET stored_at = now() - interval '1 day'`); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	record(t, s, finished("b1", "docs", "main", 1, ci.ResultSuccess, 2))
	if at := storedAt(); at.Before(before.Add(-time.Minute)) {
		t.Errorf("stored_at %v after finishing, want about %v", at, before)
	}
}
