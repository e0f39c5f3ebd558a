package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestPruneReminders: rows of breakages that are over and quiet for the age go; a current
// breakage keeps its row however old (its ack still silences it), and so does a breakage
// over but reminded of recently.
func TestPruneReminders(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.SaveChat(ctx, store.Chat{ID: 50, Type: "group"}); err != nil {
		t.Fatal(err)
	}
	// docs: broken by d2, still broken. lint: broken by l2, fixed by l3. tests: broken by
	// t2, fixed by t3.
	for _, ev := range []ci.Event{
		finished("d1", "docs", "main", 1, ci.ResultSuccess, 1), finished("d2", "docs", "main", 2, ci.ResultFailure, 2),
		finished("l1", "lint", "main", 1, ci.ResultSuccess, 1), finished("l2", "lint", "main", 2, ci.ResultFailure, 2),
		finished("l3", "lint", "main", 3, ci.ResultSuccess, 3),
		finished("t1", "tests", "main", 1, ci.ResultSuccess, 1), finished("t2", "tests", "main", 2, ci.ResultFailure, 2),
		finished("t3", "tests", "main", 3, ci.ResultSuccess, 3),
	} {
		record(t, s, ev)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	if _, _, err := s.AckBuild(ctx, 50, 0, "bb", "d2", 7, "ann", old); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AckBuild(ctx, 50, 0, "bb", "l2", 7, "ann", old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO breakage_reminders (chat_id, thread_id, conn, build_id, reminded_at)
		VALUES (50, 0, 'bb', 't2', now() - interval '1 day')`); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneReminders(ctx, 30*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("PruneReminders = %d, %v; want 1 (lint's), nil", n, err)
	}
	rows, err := s.Pool().Query(ctx, `SELECT build_id FROM breakage_reminders ORDER BY build_id`)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		left = append(left, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(left, []string{"d2", "t2"}) {
		t.Errorf("rows left %q, want d2 (still broken, acked) and t2 (reminded yesterday)", left)
	}
}
