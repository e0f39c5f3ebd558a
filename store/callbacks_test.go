package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestPutCallbacks: payloads stored for many chats in one call come back by key, each in
// its own chat only, in the order given.
func TestPutCallbacks(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	const n = 3000
	chats, data := make([]int64, n), make([]string, n)
	for i := range chats {
		chats[i], data[i] = int64(-1000-i), "force:rerun"
	}
	data[7] = "stop:seven"
	var keys []string
	err := s.InTx(ctx, func(tx *store.Tx) error {
		var err error
		keys, err = tx.PutCallbacks(ctx, chats, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("%d keys for %d payloads", len(keys), n)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] || len(k) != 16 {
			t.Fatalf("key %q repeated or not 16 characters", k)
		}
		seen[k] = true
	}
	for _, i := range []int{0, 7, n - 1} {
		got, err := s.Callback(ctx, chats[i], keys[i])
		if err != nil || got != data[i] {
			t.Errorf("payload %d = %q, %v; want %q", i, got, err, data[i])
		}
	}
	if _, err := s.Callback(ctx, chats[1], keys[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("chat 0's key in chat 1: %v, want ErrNotFound", err)
	}

	if keys, err := s.PutCallbacks(ctx, nil, nil); err != nil || keys != nil {
		t.Errorf("no payloads: %v, %v; want nothing", keys, err)
	}
	if _, err := s.PutCallbacks(ctx, []int64{1, 2}, []string{"x"}); err == nil {
		t.Error("two chats for one payload: no error")
	}
}

// TestClaimButton: a button is claimed once per chat, before and after a restart (the claim
// is a row), of presses at once exactly one wins, a release makes it work again, and the
// claim itself is no button anyone can press.
func TestClaimButton(t *testing.T) {
	ctx := context.Background()
	url := storetest.NewURL(t)
	s, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const data = `force:{"a":"rerun","c":"gh","id":"7/1"}`
	claim := func(st *store.Store, chat int64) bool {
		t.Helper()
		first, err := st.ClaimButton(ctx, chat, data)
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	if !claim(s, -1) {
		t.Fatal("first claim = false")
	}
	if claim(s, -1) {
		t.Error("second claim in the same chat = true")
	}
	if !claim(s, -2) {
		t.Error("first claim in another chat = false")
	}
	if first, err := s.ClaimButton(ctx, -1, data+" "); err != nil || !first {
		t.Errorf("another payload in chat -1: %v, %v; want a first claim", first, err)
	}
	again, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if claim(again, -1) {
		t.Error("claim after a restart = true")
	}

	var wins int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first, err := s.ClaimButton(ctx, -3, data)
			if err != nil {
				t.Error(err)
				return
			}
			if first {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d of 8 presses at once claimed the button, want 1", wins)
	}

	if err = s.ReleaseButton(ctx, -1, data); err != nil {
		t.Fatal(err)
	}
	if !claim(s, -1) {
		t.Error("claim after release = false")
	}
	if claim(s, -2) {
		t.Error("chat -2's claim went with chat -1's release")
	}

	rows, err := s.Pool().Query(ctx, `SELECT chat_id, key FROM callbacks`)
	if err != nil {
		t.Fatal(err)
	}
	type claimRow struct {
		chat int64
		key  string
	}
	var claims []claimRow
	for rows.Next() {
		var c claimRow
		if err := rows.Scan(&c.chat, &c.key); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(claims) != 4 {
		t.Fatalf("%d claim rows, want 4 (chats -1 twice, -2, -3)", len(claims))
	}
	for _, c := range claims {
		if _, err := s.Callback(ctx, c.chat, c.key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("claim %q pressed as a button: %v, want ErrNotFound", c.key, err)
		}
	}
}

// BenchmarkPutCallbacks is the payloads of a failure's Re-run buttons for 3,000 chats, in
// the event's transaction: one statement, against one round trip per chat as before.
// go test -run '^$' -bench PutCallbacks -benchtime 20x ./store/
func BenchmarkPutCallbacks(b *testing.B) {
	ctx := context.Background()
	s := storetest.New(b)
	const n = 3000
	chats, data := make([]int64, n), make([]string, n)
	for i := range chats {
		chats[i], data[i] = int64(-1000-i), `force:{"a":"rerun","c":"gh","id":"4711/1"}`
	}
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			err := s.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.PutCallbacks(ctx, chats, data)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one-by-one", func(b *testing.B) {
		for b.Loop() {
			err := s.InTx(ctx, func(tx *store.Tx) error {
				for i := range chats {
					if _, err := tx.PutCallbacks(ctx, chats[i:i+1], data[i:i+1]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
