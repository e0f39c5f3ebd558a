package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
	if _, err := s.SaveUpdates(ctx, ups, 5); err != nil {
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
	if _, err := s.SaveUpdates(ctx, []store.Update{{ID: 7, ChatID: 1, Payload: []byte(raw)}}, 8); err != nil {
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

// TestSaveUpdateJSONBRefuses: jsonb refuses more than NUL — a lone UTF-16 surrogate escape
// ("\ud83d" without its pair, 22P02) and invalid UTF-8 — and one refused update used to fail
// its whole batch, which was then retried for ever while Telegram was never acknowledged.
// Such an update is stored re-encoded (U+FFFD in place of what jsonb refuses), one that is
// not JSON at all as a stub with its id, and the others in the batch and the offset with them.
func TestSaveUpdateJSONBRefuses(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	ups := []store.Update{
		{ID: 1, ChatID: 1, Payload: []byte(`{"update_id":1,"message":{"chat":{"id":1},"text":"ok \ud83d\ude00"}}`)},
		{ID: 2, ChatID: 1, Payload: []byte(`{"update_id":2,"message":{"chat":{"id":1,"first_name":"A\u0000B"},"text":"hi \ud83d"}}`)},
		{ID: 3, ChatID: 1, Payload: []byte("{\"update_id\":3,\"message\":{\"chat\":{\"id\":1},\"text\":\"bad \xff\"}}")},
		{ID: 4, ChatID: 1, Payload: []byte(`{"update_id":4,"message":`)},
	}
	stubbed, err := s.SaveUpdates(ctx, ups, 5)
	if err != nil {
		t.Fatalf("SaveUpdates: %v", err)
	}
	if len(stubbed) != 1 || stubbed[0] != 4 {
		t.Errorf("stubbed = %v, want [4]", stubbed)
	}
	if off, err := s.Offset(ctx); err != nil || off != 5 {
		t.Errorf("offset = %d, %v; want 5", off, err)
	}
	stored, err := s.PendingUpdates(ctx, 0, 10)
	if err != nil || len(stored) != 4 {
		t.Fatalf("pending = %v, %v", stored, err)
	}
	type msg struct {
		Message struct {
			Chat struct {
				FirstName string `json:"first_name"`
			} `json:"chat"`
			Text string `json:"text"`
		} `json:"message"`
	}
	want := []msg{{}, {}, {}}
	want[0].Message.Text = "ok \U0001F600"
	want[1].Message.Text, want[1].Message.Chat.FirstName = "hi \ufffd", "A\ufffdB"
	want[2].Message.Text = "bad \ufffd"
	for i, u := range stored[:3] {
		var got msg
		if err := json.Unmarshal(u.Payload, &got); err != nil {
			t.Fatalf("stored %d: %v", u.ID, err)
		}
		if got != want[i] {
			t.Errorf("stored %d = %+v, want %+v", u.ID, got, want[i])
		}
		var held msg
		if err := json.Unmarshal(ups[i].Payload, &held); err != nil || held != got {
			t.Errorf("update %d: the caller holds %s, stored is %s; want the same", u.ID, ups[i].Payload, u.Payload)
		}
	}
	if got := string(stored[3].Payload); got != `{"update_id": 4}` && got != `{"update_id":4}` {
		t.Errorf("stored stub = %s", got)
	}
	if string(ups[3].Payload) != `{"update_id":4}` {
		t.Errorf("the caller holds %s for the stub", ups[3].Payload)
	}
}

// TestCleanPayload: what jsonb takes is left as it is (byte for byte); what it refuses is
// re-encoded with U+FFFD in its place, and what was not a NUL or a lone surrogate is kept.
func TestCleanPayload(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain", `{"a":"x"}`, `{"a":"x"}`},
		{"paired surrogates", `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d\ude00"}`},
		{"escaped backslash", `{"a":"\\u0000 \\ud83d"}`, `{"a":"\\u0000 \\ud83d"}`},
		{"nul", `{"a":"x\u0000y","n":12345678901234567890}`, `{"a":"x\ufffdy","n":12345678901234567890}`},
		{"nul in key", `{"a\u0000":1}`, `{"a\ufffd":1}`},
		{"lone high", `{"a":"\uD83D!"}`, `{"a":"\ufffd!"}`},
		{"lone low", `{"a":"\ude00"}`, `{"a":"\ufffd"}`},
		{"high then not low", `{"a":"\ud83d\u0041"}`, `{"a":"\ufffdA"}`},
		{"not json", `{"a":"\u0000`, `{"a":"\u0000`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := store.CleanPayload([]byte(tt.in))
			var g, w any
			if tt.name == "not json" || tt.in == tt.want {
				if string(got) != tt.want {
					t.Errorf("CleanPayload(%s) = %s, want it unchanged", tt.in, got)
				}
				return
			}
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("CleanPayload(%s) = %s: %v", tt.in, got, err)
			}
			_ = json.Unmarshal([]byte(tt.want), &w)
			if gj, _ := json.Marshal(g); string(gj) != func() string { wj, _ := json.Marshal(w); return string(wj) }() {
				t.Errorf("CleanPayload(%s) = %s, want %s", tt.in, got, tt.want)
			}
			if strings.Contains(string(got), "12345678901234567890") != strings.Contains(tt.in, "12345678901234567890") {
				t.Errorf("CleanPayload(%s) = %s: a big number changed", tt.in, got)
			}
		})
	}
}

// TestIsUnavailable: the database going away (no server, a closed pool, a connection cut by
// an admin) is unavailability, which the intake retries; a refusal of a value, a violated
// constraint, a context that ended or a network error that is not pgx's are not.
func TestIsUnavailable(t *testing.T) {
	ctx := context.Background()
	closed := storetest.New(t)
	closed.Close()
	_, closedErr := closed.Offset(ctx)
	down, err := store.Open(ctx, "postgres://herald@127.0.0.1:1/herald?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	_, downErr := down.Offset(ctx)
	live := storetest.New(t)
	_, dataErr := live.Pool().Exec(ctx, `SELECT '{"a":"\ud83d"}'::jsonb`)
	_, cancelled := live.Pool().Exec(func() context.Context { c, cancel := context.WithCancel(ctx); cancel(); return c }(), `SELECT 1`)
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"closed pool", closedErr, true},
		{"connection refused", downErr, true},
		{"admin shutdown", fmt.Errorf("store: x: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"data error", dataErr, false},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"query cancelled", &pgconn.PgError{Code: "57014"}, false},
		{"context ended", cancelled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"a CI's network error", fmt.Errorf("buildbot: %w", &net.OpError{Op: "dial", Err: errors.New("refused")}), false},
		{"nil", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil && tt.name != "nil" {
				t.Fatal("no error to classify")
			}
			if got := store.IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestUpdatesByID: the intake's holder reads the updates a notification named: those still
// unhandled, in update_id order whatever order they were named in; an id handled meanwhile
// (by the previous holder) or never stored is left out.
func TestUpdatesByID(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	var ups []store.Update
	for _, id := range []int64{5, 6, 7, 8} {
		ups = append(ups, store.Update{ID: id, ChatID: -1, Payload: []byte(fmt.Sprintf(`{"update_id":%d}`, id))})
	}
	if _, err := s.SaveUpdates(ctx, ups, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.MarkHandled(ctx, 6) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdatesByID(ctx, []int64{8, 6, 99, 5})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, u := range got {
		ids = append(ids, u.ID)
		if u.ChatID != -1 || string(u.Payload) != fmt.Sprintf(`{"update_id": %d}`, u.ID) {
			t.Errorf("update %d read as chat %d, payload %s", u.ID, u.ChatID, u.Payload)
		}
	}
	if fmt.Sprint(ids) != "[5 8]" {
		t.Errorf("UpdatesByID(8, 6, 99, 5) = %v; want [5 8]", ids)
	}
	if none, err := s.UpdatesByID(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("UpdatesByID(nothing) = %v, %v; want nothing", none, err)
	}
}
