package bot

import (
	"bytes"
	"context"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
)

// TestSenderRelayedCalls: relayed rows go out as their calls asked — text in its own parse
// mode with its options, a photo uploaded from the stored bytes, a document by URL — in the
// chat's order with herald's own messages, and a 429 on an upload only delays it.
func TestSenderRelayedCalls(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	ctx := context.Background()
	const chat = int64(-1001)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 0xff}, 4096)...)
	if err := h.st.Enqueue(ctx, store.OutMessage{ChatID: chat, Text: "<b>herald's own</b>"}); err != nil {
		t.Fatal(err)
	}
	relayed := []struct {
		msg  store.OutMessage
		call store.RelayCall
	}{
		{store.OutMessage{ChatID: chat, Text: "*launch* closed", Silent: true},
			store.RelayCall{Method: store.RelaySendMessage, ParseMode: "MarkdownV2", Options: []byte(`{"link_preview_options":{"is_disabled":true}}`)}},
		{store.OutMessage{ChatID: chat, ThreadID: 4, Text: "<i>coverage</i>", ReplyMarkup: []byte(`{"inline_keyboard":[[{"text":"open","url":"https://ci.example.com"}]]}`)},
			store.RelayCall{Method: store.RelaySendPhoto, ParseMode: "HTML", File: store.RelayFile{Name: "cov.png", ContentType: "image/png", Data: png}}},
		{store.OutMessage{ChatID: chat},
			store.RelayCall{Method: store.RelaySendDocument, File: store.RelayFile{Ref: "https://ci.example.com/report.pdf"}}},
		{store.OutMessage{ChatID: chat, Text: "plain <text>"},
			store.RelayCall{Method: store.RelaySendMessage}},
	}
	for _, r := range relayed {
		if _, err := h.st.EnqueueRelay(ctx, r.msg, r.call); err != nil {
			t.Fatal(err)
		}
	}
	h.tg.FailNext("sendPhoto", chat, telegramtest.TooManyRequests(1))
	h.start(t)
	waitFor(t, "the outbox to drain", outboxEmpty(t, h.st))

	msgs := h.tg.Messages(chat)
	if len(msgs) != 5 {
		t.Fatalf("%d messages, want 5: %+v", len(msgs), msgs)
	}
	if m := msgs[0]; m.Text != "<b>herald's own</b>" || m.ParseMode != "HTML" || !m.NoPreview || m.Media != nil {
		t.Errorf("herald's own message: %+v", m)
	}
	if m := msgs[1]; m.Text != "*launch* closed" || m.ParseMode != "MarkdownV2" || !m.NoPreview || !m.Silent || m.Media != nil {
		t.Errorf("relayed text: %+v", m)
	}
	if m := msgs[2]; m.Media == nil || m.Media.Method != "sendPhoto" || m.Media.FileName != "cov.png" || !bytes.Equal(m.Media.Data, png) ||
		m.Text != "<i>coverage</i>" || m.ParseMode != "HTML" || m.ThreadID != 4 || len(m.Keyboard) != 1 || m.Keyboard[0][0].URL != "https://ci.example.com" {
		t.Errorf("relayed photo: %+v", m)
	}
	if m := msgs[3]; m.Media == nil || m.Media.Method != "sendDocument" || m.Media.Ref != "https://ci.example.com/report.pdf" || m.Media.Data != nil || m.Text != "" {
		t.Errorf("relayed document: %+v", m)
	}
	// A relayed text without parse mode goes without one, and with link previews as
	// Telegram's default has them: what the tool would have got calling Telegram itself.
	if m := msgs[4]; m.Text != "plain <text>" || m.ParseMode != "" || m.NoPreview {
		t.Errorf("relayed plain text: %+v", m)
	}
	if got := h.tg.Stats().RateLimited; got != 1 {
		t.Errorf("rate limited %d times, want the 1 injected", got)
	}
	if n := countRows(t, h.st, `SELECT count(*) FROM outbox_media`); n != 0 {
		t.Errorf("%d relayed calls left after they were sent", n)
	}
}

// TestSenderRelayedRefused: a relayed call Telegram refuses for good goes to outbox_failed
// like any message, and does not hold up the chat.
func TestSenderRelayedRefused(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	ctx := context.Background()
	if _, err := h.st.EnqueueRelay(ctx, store.OutMessage{ChatID: 9},
		store.RelayCall{Method: store.RelaySendPhoto, File: store.RelayFile{Ref: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := h.st.Enqueue(ctx, store.OutMessage{ChatID: 9, Text: "after"}); err != nil {
		t.Fatal(err)
	}
	h.tg.FailNext("sendPhoto", 9, telegramtest.Failure{Code: 400, Description: "Bad Request: wrong remote file identifier specified"})
	h.start(t)
	waitFor(t, "the outbox to drain", outboxEmpty(t, h.st))
	if msgs := h.tg.Messages(9); len(msgs) != 1 || msgs[0].Text != "after" {
		t.Errorf("messages = %+v", msgs)
	}
	failed, err := h.st.FailedMessages(ctx, 9, 10)
	if err != nil || len(failed) != 1 || failed[0].Error == "" {
		t.Errorf("failed = %+v, %v", failed, err)
	}
}

func countRows(t *testing.T, st *store.Store, sql string) int {
	t.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
