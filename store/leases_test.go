package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func TestLeaseRoleHasOneHolder(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	a, err := st.NewLessee(ctx, "a:1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b, err := st.NewLessee(ctx, "b:2")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if a.ID() == b.ID() || a.ID() <= 0 || b.ID() <= 0 {
		t.Fatalf("ids %d and %d: want two distinct positive ids", a.ID(), b.ID())
	}

	try := func(l *store.Lessee, role string) bool {
		t.Helper()
		ok, err := l.TryRole(ctx, role)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !try(a, "sender") {
		t.Fatal("a could not take a free role")
	}
	if try(b, "sender") {
		t.Fatal("b took the role a holds")
	}
	if !try(b, "poller") {
		t.Fatal("b could not take another free role")
	}
	if err := a.ReleaseRole(ctx, "sender"); err != nil {
		t.Fatal(err)
	}
	if !try(b, "sender") {
		t.Fatal("b could not take the role a released")
	}
}

// A process whose connection is gone (killed, or cut off and noticed by Postgres) is dead
// at once: its roles are free and its claims no longer live.
func TestLeaseDiesWithItsConnection(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	a, err := st.NewLessee(ctx, "a:1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.NewLessee(ctx, "b:2")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	if ok, err := a.TryRole(ctx, "sender"); err != nil || !ok {
		t.Fatalf("a.TryRole = %v, %v", ok, err)
	}
	if alive, err := st.ProcessAlive(ctx, a.ID()); err != nil || !alive {
		t.Fatalf("ProcessAlive(a) = %v, %v; want true", alive, err)
	}

	// What kill -9 does to the connection, seen from Postgres.
	if _, err := st.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = '' AND
		pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1)`, a.ID()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := b.TryRole(ctx, "sender")
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the role of a dead process is still held after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if alive, err := st.ProcessAlive(ctx, a.ID()); err != nil || alive {
		t.Fatalf("ProcessAlive(dead a) = %v, %v; want false", alive, err)
	}
	if err := a.Beat(ctx); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("Beat on a killed connection = %v; want ErrLeaseLost", err)
	}
	// a comes back with the same id (its claims stay its own) and holds nothing.
	if err := a.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if alive, err := st.ProcessAlive(ctx, a.ID()); err != nil || !alive {
		t.Fatalf("ProcessAlive(reconnected a) = %v, %v; want true", alive, err)
	}
	if ok, err := a.TryRole(ctx, "sender"); err != nil || ok {
		t.Fatalf("reconnected a took the role b holds: %v, %v", ok, err)
	}
}

// A process not seen for longer than the TTL is not alive although its lock is held: its
// claims expire (a stuck process, or one Postgres has not yet noticed is gone).
func TestLeaseExpiresUnseen(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	a, err := st.NewLessee(ctx, "a:1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if _, err := st.Pool().Exec(ctx, `UPDATE processes SET seen_at = now() - make_interval(secs => $2) WHERE id = $1`,
		a.ID(), (store.ProcessTTL + time.Second).Seconds()); err != nil {
		t.Fatal(err)
	}
	if alive, err := st.ProcessAlive(ctx, a.ID()); err != nil || alive {
		t.Fatalf("ProcessAlive(unseen a) = %v, %v; want false", alive, err)
	}
	if err := a.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	if alive, err := st.ProcessAlive(ctx, a.ID()); err != nil || !alive {
		t.Fatalf("ProcessAlive(a after a beat) = %v, %v; want true", alive, err)
	}
	if alive, err := st.ProcessAlive(ctx, 12345); err != nil || alive {
		t.Fatalf("ProcessAlive(never seen) = %v, %v; want false", alive, err)
	}
}
