package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestRelayCallRoundTrip stores relayed calls of each kind beside an ordinary message and reads
// them back as the sender does: the file's bytes, its reference and the options intact, the
// ordinary row not taken for a relayed one, and the call gone with its row once sent or failed.
func TestRelayCallRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.Enqueue(ctx, store.OutMessage{ChatID: 1, Text: "plain"}); err != nil {
		t.Fatal(err)
	}
	photo := []byte("\x89PNG\r\n\x1a\n\x00binary\x00")
	calls := []struct {
		msg  store.OutMessage
		call store.RelayCall
	}{
		{store.OutMessage{ChatID: 1, Text: "*hi*", Silent: true},
			store.RelayCall{Method: store.RelaySendMessage, ParseMode: "MarkdownV2", Options: []byte(`{"link_preview_options": {"is_disabled": true}}`)}},
		{store.OutMessage{ChatID: 1, ThreadID: 7, Text: "a caption"},
			store.RelayCall{Method: store.RelaySendPhoto, File: store.RelayFile{Name: "shot.png", ContentType: "image/png", Data: photo}}},
		{store.OutMessage{ChatID: 2},
			store.RelayCall{Method: store.RelaySendDocument, File: store.RelayFile{Ref: "https://example.com/report.pdf"}}},
	}
	ids := make([]int64, len(calls))
	for i, c := range calls {
		id, err := s.EnqueueRelay(ctx, c.msg, c.call)
		if err != nil {
			t.Fatalf("EnqueueRelay %d: %v", i, err)
		}
		if i > 0 && id <= ids[i-1] {
			t.Fatalf("ids %v not increasing", ids[:i+1])
		}
		ids[i] = id
	}
	rows, err := s.ClaimOutbox(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("claimed %d rows, want 4", len(rows))
	}
	for i, r := range rows {
		if r.Relayed != (i > 0) {
			t.Errorf("claimed row %d: Relayed = %v, want %v", i, r.Relayed, i > 0)
		}
	}
	if _, err := s.RelayCallOf(ctx, rows[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RelayCallOf(an ordinary row) = %v, want ErrNotFound", err)
	}
	for i, want := range calls {
		row := rows[i+1]
		if row.ID != ids[i] || row.Text != want.msg.Text || row.ThreadID != want.msg.ThreadID || row.Silent != want.msg.Silent {
			t.Errorf("row %d = %+v, want id %d and %+v", i, row, ids[i], want.msg)
		}
		got, err := s.RelayCallOf(ctx, ids[i])
		if err != nil {
			t.Fatalf("RelayCallOf %d: %v", i, err)
		}
		if got.Method != want.call.Method || got.ParseMode != want.call.ParseMode || got.File.Ref != want.call.File.Ref ||
			got.File.Name != want.call.File.Name || got.File.ContentType != want.call.File.ContentType || !bytes.Equal(got.File.Data, want.call.File.Data) {
			t.Errorf("call %d = %+v, want %+v", i, got, want.call)
		}
		if (want.call.Options == nil) != (got.Options == nil) {
			t.Errorf("call %d options = %q, want %q", i, got.Options, want.call.Options)
		}
	}
	// jsonb normalises the object; what matters is that it is the same object.
	if got, _ := s.RelayCallOf(ctx, ids[0]); string(got.Options) != `{"link_preview_options": {"is_disabled": true}}` {
		t.Errorf("options = %s", got.Options)
	}

	if err := s.AckSent(ctx, rows[1], 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.FailOutbox(ctx, rows[2].ID, "Bad Request: wrong file"); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:2] {
		if _, err := s.RelayCallOf(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("call of row %d after it was done: %v, want ErrNotFound", id, err)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM outbox_media`); n != 1 {
		t.Errorf("%d relayed calls left, want 1 (the document)", n)
	}
}

// TestRelayCallRolledBack: a call whose file cannot be stored leaves no outbox row behind
// either, so nothing is sent without the call it belongs to.
func TestRelayCallRolledBack(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	_, err := s.EnqueueRelay(ctx, store.OutMessage{ChatID: 1, Text: "x"}, store.RelayCall{Method: "sendSticker"})
	if err == nil {
		t.Fatal("EnqueueRelay of an unknown method worked")
	}
	if n := count(t, s, `SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("%d outbox rows left after a failed relayed enqueue, want 0", n)
	}
}

func TestChatByUsername(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	for _, c := range []store.Chat{
		{ID: -1001, Type: "channel", Title: "Releases", Username: "HeraldReleases"},
		{ID: 5, Type: "private", Username: ""},
	} {
		if err := s.SaveChat(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.ChatByUsername(ctx, "heraldreleases")
	if err != nil || c.ID != -1001 || c.Type != "channel" {
		t.Errorf("ChatByUsername = %+v, %v; want chat -1001", c, err)
	}
	for _, name := range []string{"", "nobody"} {
		if _, err := s.ChatByUsername(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ChatByUsername(%q) = %v, want ErrNotFound", name, err)
		}
	}
}
