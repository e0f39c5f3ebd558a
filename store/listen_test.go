package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// listener runs Store.Listen on channel until the test ends and collects what it hears.
type listener struct {
	mu       sync.Mutex
	payloads []string
	readies  int
}

func listen(t *testing.T, s *store.Store, channel string) *listener {
	t.Helper()
	l := &listener{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(ctx, channel, func() {
			l.mu.Lock()
			l.readies++
			l.mu.Unlock()
		}, func(p string) {
			l.mu.Lock()
			l.payloads = append(l.payloads, p)
			l.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("Listen returned %v after its context ended; want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Listen did not return after its context ended")
		}
	})
	waitUntil(t, "the LISTEN in place", func() bool { return l.ready() >= 1 })
	return l
}

func (l *listener) ready() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readies
}

func (l *listener) heard() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.payloads)
}

// ids is every update id the listener heard, in the order heard.
func (l *listener) ids(t *testing.T) []int64 {
	t.Helper()
	var out []int64
	for _, p := range l.heard() {
		ids, ok := store.ParseUpdateIDs(p)
		if !ok {
			t.Fatalf("payload %q is not a list of update ids", p)
		}
		out = append(out, ids...)
	}
	return out
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSaveUpdatesNotifies: the replica holding the intake learns of an update any replica
// stored from a notification naming its id. It comes only with the commit: a save that
// rolls back (here its offset is refused, after the updates and their NOTIFY went in) names
// nothing, so the holder never looks for a row that is not there; and once a notification
// arrives its rows can be read.
func TestSaveUpdatesNotifies(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	l := listen(t, s, store.UpdatesChannel)

	// A save that fails after the NOTIFY: a trigger refuses the offset.
	if _, err := s.Pool().Exec(ctx, `
		CREATE FUNCTION refuse_offset() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'no offset today'; END $$;
		CREATE TRIGGER refuse_offset BEFORE INSERT OR UPDATE ON telegram_offset
		FOR EACH ROW EXECUTE FUNCTION refuse_offset()`); err != nil {
		t.Fatal(err)
	}
	rolledBack := []store.Update{{ID: 7, ChatID: 1, Payload: []byte(`{"update_id":7}`)}}
	if _, err := s.SaveUpdates(ctx, rolledBack, 8); err == nil || !strings.Contains(err.Error(), "no offset today") {
		t.Fatalf("SaveUpdates with a refused offset: %v; want the trigger's error", err)
	}
	if _, err := s.Pool().Exec(ctx, `DROP TRIGGER refuse_offset ON telegram_offset`); err != nil {
		t.Fatal(err)
	}

	// Two saves that commit: one from the poller (with an offset), one from a webhook.
	if _, err := s.SaveUpdates(ctx, []store.Update{
		{ID: 11, ChatID: 1, Payload: []byte(`{"update_id":11}`)},
		{ID: 12, ChatID: 2, Payload: []byte(`{"update_id":12}`)},
	}, 13); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveUpdate(ctx, store.Update{ID: 14, ChatID: 1, Payload: []byte(`{"update_id":14}`)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "two notifications", func() bool { return len(l.heard()) >= 2 })
	if got, want := l.heard(), []string{"11,12", "14"}; !slices.Equal(got, want) {
		t.Errorf("heard %q; want %q (one notification per committed save, in commit order, none for the save rolled back)", got, want)
	}
	ups, err := s.UpdatesByID(ctx, l.ids(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 3 {
		t.Errorf("UpdatesByID of what was heard: %d updates; want all 3", len(ups))
	}
}

// TestSaveUpdatesNotifiesManyIDs: Postgres refuses a payload of 8000 bytes or more; a big
// batch is named over several notifications, every id once.
func TestSaveUpdatesNotifiesManyIDs(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	l := listen(t, s, store.UpdatesChannel)
	const n = 1500
	var ups []store.Update
	var want []int64
	for i := range n {
		id := int64(900000000000 + i)
		ups = append(ups, store.Update{ID: id, Payload: []byte(fmt.Sprintf(`{"update_id":%d}`, id))})
		want = append(want, id)
	}
	if _, err := s.SaveUpdates(ctx, ups, 0); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "every id heard", func() bool { return len(l.ids(t)) >= n })
	if got := l.ids(t); !slices.Equal(got, want) {
		t.Errorf("heard %d ids; want the %d saved, each once, in order", len(got), n)
	}
	payloads := l.heard()
	if len(payloads) < 2 {
		t.Errorf("%d ids in %d notification(s); want them split", n, len(payloads))
	}
	for _, p := range payloads {
		if len(p) >= 8000 {
			t.Errorf("a payload of %d bytes; Postgres refuses 8000 or more", len(p))
		}
	}
}

// TestListenReconnects: notifications sent while the listener's connection is down are
// lost, so after it is back the listener hears "" (look for yourself) before anything new,
// and then hears new notifications again.
func TestListenReconnects(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	l := listen(t, s, "herald_test_channel")
	if _, err := s.Pool().Exec(ctx, `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the LISTEN in place again", func() bool { return l.ready() >= 2 })
	if err := s.Notify(ctx, "herald_test_channel", "after"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the notification after the reconnect", func() bool { return len(l.heard()) >= 2 })
	if got, want := l.heard(), []string{"", "after"}; !slices.Equal(got, want) {
		t.Errorf("heard %q; want %q", got, want)
	}
}

func TestParseUpdateIDs(t *testing.T) {
	for _, tc := range []struct {
		payload string
		ids     []int64
		ok      bool
	}{
		{"101", []int64{101}, true},
		{"101,102,7", []int64{101, 102, 7}, true},
		{"", nil, false},
		{"101,", nil, false},
		{"x", nil, false},
	} {
		ids, ok := store.ParseUpdateIDs(tc.payload)
		if ok != tc.ok || !slices.Equal(ids, tc.ids) {
			t.Errorf("ParseUpdateIDs(%q) = %v, %v; want %v, %v", tc.payload, ids, ok, tc.ids, tc.ok)
		}
	}
}

// A listening connection that is only quiet is pinged, not dropped: waits that time out
// leave it usable, so notifications keep coming on the same LISTEN (no reconnect, no sweep).
func TestListenQuietConnectionIsKept(t *testing.T) {
	old := *store.ListenCheck
	*store.ListenCheck = 50 * time.Millisecond
	defer func() { *store.ListenCheck = old }()
	s := storetest.New(t)
	l := listen(t, s, "herald_quiet_test")
	time.Sleep(20 * 50 * time.Millisecond) // many quiet waits, each ending in a ping
	if err := s.Notify(context.Background(), "herald_quiet_test", "still here"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the notification", func() bool { return len(l.heard()) >= 1 })
	if got := l.heard(); l.ready() != 1 || !slices.Equal(got, []string{"still here"}) {
		t.Errorf("LISTEN set up %d times, heard %q; want once and [still here]", l.ready(), got)
	}
}
