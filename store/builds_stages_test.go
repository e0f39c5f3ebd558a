package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestEventStages runs the merge and save stages apart, the way the notifier does: the merge
// hands back the merged build and the build before it, unclassified; what the caller derived
// is what is stored; a duplicate stops at the merge (a build's event) or the save (any other).
func TestEventStages(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	record(t, s, started("2", "app", "main", 2, 1))
	record(t, s, finished("1", "app", "main", 1, ci.ResultSuccess, 0))

	stage := func(ev ci.Event, classify bool) (store.MergedEvent, int64, bool) {
		t.Helper()
		var (
			m     store.MergedEvent
			id    int64
			isNew bool
		)
		err := s.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if m, err = tx.MergeEvent(ctx, ev); err != nil || m.Dup {
				return err
			}
			if classify {
				m.Event = ci.ClassifyEvent(m.Event)
			}
			id, isNew, err = tx.SaveEvent(ctx, m)
			return err
		})
		if err != nil {
			t.Fatalf("stages of %s: %v", ev.Key(), err)
		}
		return m, id, isNew
	}

	fin := finished("2", "app", "main", 2, ci.ResultFailure, 3)
	m, id, isNew := stage(fin, false)
	switch {
	case m.Dup || !isNew || id == 0:
		t.Fatalf("first delivery: dup %v, new %v, id %d", m.Dup, isNew, id)
	case m.Event.Derived != nil:
		t.Errorf("merge classified already: %v", m.Event.Derived)
	case m.Event.Previous == nil || m.Event.Previous.ID != "1":
		t.Errorf("previous = %+v, want build 1", m.Event.Previous)
	case m.Event.Build.Revision != "rev2" || !m.Event.Build.Complete:
		t.Errorf("build %+v, want the start's revision merged in and complete", m.Event.Build)
	}
	// Stored without classification, the first delivery as stored has nothing derived: the
	// store keeps what the caller's stage decided.
	again, _, _ := stage(fin, true)
	if !again.Dup || again.ID != id || again.Event.Derived != nil {
		t.Errorf("redelivery = dup %v, id %d (want %d), derived %v", again.Dup, again.ID, id, again.Event.Derived)
	}

	w := ci.Event{Conn: "bb", Kind: ci.KindWorker, WorkerState: ci.WorkerMissing, At: minute(4), Worker: &ci.Worker{Name: "w1"}}
	if m, _, isNew := stage(w, true); m.Dup || !isNew {
		t.Errorf("worker event, first delivery: dup %v, new %v", m.Dup, isNew)
	}
	if m, _, isNew := stage(w, true); m.Dup || isNew {
		t.Errorf("worker event, redelivery: dup %v, new %v; want it found at the save stage", m.Dup, isNew)
	}

	err := s.InTx(ctx, func(tx *store.Tx) error {
		_, _, err := tx.SaveEvent(ctx, store.MergedEvent{Event: w})
		return err
	})
	if !errors.Is(err, store.ErrBadEvent) {
		t.Errorf("SaveEvent without MergeEvent = %v, want ErrBadEvent", err)
	}
}
