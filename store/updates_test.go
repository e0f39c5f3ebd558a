package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestPendingUpdates: the intake reads back what it has not handled — everything at start,
// later only what is older than its sweep interval (newer updates are on their way to it),
// and one chat's updates oldest first when that chat's queue had no room for them.
func TestPendingUpdates(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ups := []store.Update{
		{ID: 3, ChatID: -1, Payload: []byte(`{"update_id":3}`)},
		{ID: 1, ChatID: -1, Payload: []byte(`{"update_id":1}`)},
		{ID: 2, ChatID: 42, Payload: []byte(`{"update_id":2}`)},
		{ID: 4, ChatID: -1, Payload: []byte(`{"update_id":4}`)},
	}
	if err := s.SaveUpdates(ctx, ups, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.MarkHandled(ctx, 4) }); err != nil {
		t.Fatal(err)
	}
	ids := func(ups []store.Update, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, u := range ups {
			out = append(out, u.ID)
		}
		return out
	}
	if got := ids(s.PendingUpdates(ctx, 0, 10)); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("pending = %v, want [1 2 3]", got)
	}
	if got := ids(s.PendingUpdates(ctx, 0, 2)); len(got) != 2 || got[1] != 2 {
		t.Errorf("pending, limit 2 = %v, want [1 2]", got)
	}
	if got := ids(s.PendingUpdates(ctx, time.Hour, 10)); len(got) != 0 {
		t.Errorf("pending for an hour = %v, want none", got)
	}
	if got := ids(s.PendingChatUpdates(ctx, -1, 10)); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("pending in chat -1 = %v, want [1 3]", got)
	}
}

// TestSaveUpdateWithNUL: jsonb refuses the escape \u0000, and an update that cannot be stored
// is never acknowledged (Telegram would send it again forever and the poller retry forever):
// it is stored with U+FFFD in its place. An escaped backslash before "u0000" is plain text.
func TestSaveUpdateWithNUL(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	raw := `{"update_id":7,"message":{"chat":{"id":1},"text":"a\u0000b \\u0000 \\\u0000"}}`
	if err := s.SaveUpdates(ctx, []store.Update{{ID: 7, ChatID: 1, Payload: []byte(raw)}}, 8); err != nil {
		t.Fatalf("SaveUpdates: %v", err)
	}
	ups, err := s.PendingUpdates(ctx, 0, 10)
	if err != nil || len(ups) != 1 {
		t.Fatalf("pending = %v, %v", ups, err)
	}
	var u struct {
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.Unmarshal(ups[0].Payload, &u); err != nil {
		t.Fatal(err)
	}
	if want := "a\ufffdb \\u0000 \\\ufffd"; u.Message.Text != want {
		t.Errorf("stored text %q, want %q", u.Message.Text, want)
	}
}
