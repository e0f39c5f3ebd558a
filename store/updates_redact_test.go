package store_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestHandledStartKeepsNoParameter: /start's parameter is an invite code (or whatever a deep
// link carried); once the update is handled the stored text is /start alone, so the updates
// table (kept a week) holds no code that works. Until then it must stay: the intake reads it.
func TestHandledStartKeepsNoParameter(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	for _, tt := range []struct {
		id         int64
		text, want string
	}{
		{1, "/start Zx9-secret_code", "/start"},
		{2, "/start@herald_bot Zx9-secret_code", "/start@herald_bot"},
		{3, "/start\nZx9-secret_code", "/start"},
		{4, "/start", "/start"},
		{5, "/status Zx9-kept", "/status Zx9-kept"},
		{6, "/starting Zx9-kept", "/starting Zx9-kept"},
	} {
		text, _ := json.Marshal(tt.text)
		payload := `{"update_id":` + strconv.FormatInt(tt.id, 10) + `,"message":{"message_id":1,"chat":{"id":42,"type":"private"},"text":` + string(text) + `}}`
		if err := s.SaveUpdate(ctx, store.Update{ID: tt.id, ChatID: 42, Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
		var before string
		if err := s.Pool().QueryRow(ctx, `SELECT payload->'message'->>'text' FROM updates WHERE update_id = $1`, tt.id).Scan(&before); err != nil || before != tt.text {
			t.Fatalf("before handling: %q, %v; want it as sent", before, err)
		}
		if err := s.InTx(ctx, func(tx *store.Tx) error { return tx.MarkHandled(ctx, tt.id) }); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := s.Pool().QueryRow(ctx, `SELECT payload->'message'->>'text' FROM updates WHERE update_id = $1`, tt.id).Scan(&got); err != nil || got != tt.want {
			t.Errorf("%q handled: stored text %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
}
