package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// newLessee makes a process on s that ends with the test.
func newLessee(t *testing.T, s *store.Store, name string) *store.Lessee {
	t.Helper()
	l, err := s.NewLessee(context.Background(), name)
	if err != nil {
		t.Fatalf("NewLessee(%s): %v", name, err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// killLease ends the lease connection of l from outside, as Postgres does when the process
// dies or its socket breaks, and waits until the backend is gone (and its locks with it).
func killLease(t *testing.T, s *store.Store, l *store.Lessee) {
	t.Helper()
	var ok bool
	err := s.Pool().QueryRow(context.Background(), `
		SELECT pg_terminate_backend(pid, 10000) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 2
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid::bigint = (hashtext('herald.process')::bigint & 4294967295)
			AND objid::bigint = ($1::bigint & 4294967295)`, l.ID()).Scan(&ok)
	if err != nil || !ok {
		t.Fatalf("terminate the lease connection of %s: %v, %v", l.Name(), ok, err)
	}
}

// claimAll enqueues two messages to each of chats and has process claim them all.
func claimAll(t *testing.T, s *store.Store, process int32, chats ...int64) {
	t.Helper()
	ctx := context.Background()
	var msgs []store.OutMessage
	for i := range 2 {
		for _, c := range chats {
			msgs = append(msgs, store.OutMessage{ChatID: c, Text: fmt.Sprintf("m%d to %d", i, c)})
		}
	}
	if err := s.Enqueue(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimOutbox(ctx, process, 100)
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("process %d claimed %d rows, %v; want %d", process, len(got), err, len(msgs))
	}
}

// TestTakeBackClaims is the handover of the sender role: a starting sender (process "new")
// takes back the claims of every process that is gone — closed, killed, stale, legacy rows
// without an owner, process 0, its own earlier ones — and never those of a live process,
// which it is told to wait for.
func TestTakeBackClaims(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup has owner (a live process) claim rows and do what the case is about; it
		// returns the chats the new sender should get back.
		setup     func(t *testing.T, s *store.Store, owner, taker *store.Lessee) []int64
		wantOwner bool // the owner is alive and still holds rows
	}{
		{
			name: "a live owner holding the sender role keeps its claims",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				takeSender(t, owner)
				return nil
			},
			wantOwner: true,
		},
		{
			// Its sender stopped and could not give its rows back (the database was away).
			name: "a live owner without the sender role",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				return []int64{1, 2}
			},
		},
		{
			name: "an owner that closed its lease",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				owner.Close(ctx)
				return []int64{1, 2}
			},
		},
		{
			// It may be alive and not know yet: it finds out at its next beat and stops.
			name: "an owner whose connection was killed a moment ago",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				killLease(t, s, owner)
				return nil
			},
			wantOwner: true,
		},
		{
			name: "an owner whose connection was killed, not seen for the grace",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				killLease(t, s, owner)
				exec(t, s, `UPDATE processes SET seen_at = now() - make_interval(secs => $2) WHERE id = $1`,
					owner.ID(), (store.ProcessGrace + time.Second).Seconds())
				return []int64{1, 2}
			},
		},
		{
			name: "an owner holding its lock but not seen for longer than ProcessTTL",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				exec(t, s, `UPDATE processes SET seen_at = now() - make_interval(secs => $2) WHERE id = $1`,
					owner.ID(), (store.ProcessTTL + time.Second).Seconds())
				return []int64{1, 2}
			},
		},
		{
			name: "legacy claims without an owner",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				exec(t, s, `UPDATE outbox SET claimed_by = NULL`)
				return []int64{1, 2}
			},
		},
		{
			name: "claims of process 0 (a sender without a lease)",
			setup: func(t *testing.T, s *store.Store, _, _ *store.Lessee) []int64 {
				claimAll(t, s, 0, 1, 2)
				return []int64{1, 2}
			},
		},
		{
			name: "the taker's own claims from an earlier sender",
			setup: func(t *testing.T, s *store.Store, _, taker *store.Lessee) []int64 {
				claimAll(t, s, taker.ID(), 1, 2)
				return []int64{1, 2}
			},
		},
		{
			name: "a dead owner's claims go, a live owner's stay",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1)
				takeSender(t, owner)
				dead := newLessee(t, s, "dead")
				claimAll(t, s, dead.ID(), -100, 3)
				dead.Close(ctx)
				return []int64{-100, 3}
			},
			wantOwner: true,
		},
		{
			name: "a live owner that released its own claims",
			setup: func(t *testing.T, s *store.Store, owner, _ *store.Lessee) []int64 {
				claimAll(t, s, owner.ID(), 1, 2)
				n, err := s.ReleaseOwnClaims(ctx, owner.ID())
				if err != nil || n != 4 {
					t.Fatalf("ReleaseOwnClaims = %d, %v; want 4", n, err)
				}
				return nil // nothing claimed is left to take back; the rows are free
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.New(t)
			owner, taker := newLessee(t, s, "old:1"), newLessee(t, s, "new:2")
			wantChats := tt.setup(t, s, owner, taker)
			ownerRows := count(t, s, `SELECT count(*) FROM outbox WHERE claimed_by = $1`, owner.ID())

			tb, err := s.TakeBackClaims(ctx, taker.ID())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tb.Chats, wantChats) || tb.Rows != int64(2*len(wantChats)) {
				t.Errorf("took back chats %v (%d rows), want %v (%d rows)", tb.Chats, tb.Rows, wantChats, 2*len(wantChats))
			}
			if tb.Waiting() != tt.wantOwner {
				t.Fatalf("Waiting() = %v (owner %+v), want %v", tb.Waiting(), tb.Owner, tt.wantOwner)
			}
			if tt.wantOwner {
				if tb.Owner.ID != owner.ID() || tb.Owner.Name != "old:1" || tb.Owner.Rows != int64(ownerRows) {
					t.Errorf("owner = %+v, want process %d old:1 holding %d rows", tb.Owner, owner.ID(), ownerRows)
				}
				if left := count(t, s, `SELECT count(*) FROM outbox WHERE claimed AND claimed_by = $1`, owner.ID()); left != ownerRows {
					t.Errorf("the live owner holds %d rows after the take-back, want %d", left, ownerRows)
				}
			}
			// The taker now claims exactly the rows nobody alive holds, in id order.
			want := count(t, s, `SELECT count(*) FROM outbox`)
			if tt.wantOwner {
				want -= ownerRows
			}
			got, err := s.ClaimOutbox(ctx, taker.ID(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != want {
				t.Errorf("the taker claimed %d rows, want %d", len(got), want)
			}
			if !slices.IsSortedFunc(got, func(a, b store.Queued) int { return int(a.ID - b.ID) }) {
				t.Errorf("claimed out of id order: %+v", got)
			}
		})
	}
}

// TestClaimOutboxNeedsALiveProcess: a process that is no longer alive claims nothing, since a
// starting sender may already have taken its claims back; the rows stay for a live one.
func TestClaimOutboxNeedsALiveProcess(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		kill func(t *testing.T, s *store.Store, l *store.Lessee)
	}{
		{"closed", func(t *testing.T, s *store.Store, l *store.Lessee) { l.Close(ctx) }},
		{"connection killed", killLease},
		{"not seen for longer than ProcessTTL", func(t *testing.T, s *store.Store, l *store.Lessee) {
			exec(t, s, `UPDATE processes SET seen_at = now() - make_interval(secs => $2) WHERE id = $1`,
				l.ID(), (store.ProcessTTL + time.Second).Seconds())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := storetest.New(t)
			l := newLessee(t, s, "gone:1")
			if err := s.Enqueue(ctx, store.OutMessage{ChatID: 1, Text: "a"}); err != nil {
				t.Fatal(err)
			}
			tt.kill(t, s, l)
			got, err := s.ClaimOutbox(ctx, l.ID(), 10)
			if !errors.Is(err, store.ErrNotAlive) || len(got) != 0 {
				t.Fatalf("ClaimOutbox by a process that is gone = %d rows, %v; want none, ErrNotAlive", len(got), err)
			}
			if n := count(t, s, `SELECT count(*) FROM outbox WHERE NOT claimed`); n != 1 {
				t.Errorf("%d unclaimed rows left, want 1", n)
			}
			// A live process with an empty outbox is not refused.
			live := newLessee(t, s, "live:2")
			if got, err := s.ClaimOutbox(ctx, live.ID(), 10); err != nil || len(got) != 1 {
				t.Fatalf("live process claimed %d, %v; want 1", len(got), err)
			}
			if got, err := s.ClaimOutbox(ctx, live.ID(), 10); err != nil || len(got) != 0 {
				t.Fatalf("live process, empty outbox: %d, %v; want 0, nil", len(got), err)
			}
		})
	}
}

// takeSender makes l the holder of the sender role, as the sender's process is.
func takeSender(t *testing.T, l *store.Lessee) {
	t.Helper()
	if ok, err := l.TryRole(context.Background(), store.SenderRole); err != nil || !ok {
		t.Fatalf("TryRole(sender) = %v, %v", ok, err)
	}
}
