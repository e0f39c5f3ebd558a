package telegramtest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func getUpdates(t *testing.T, s *Server, params map[string]any) []resultUpdate {
	t.Helper()
	return decodeResult[[]resultUpdate](t, callJSON(t, s, "getUpdates", params))
}

func TestLongPollReturnsWhenUpdateArrives(t *testing.T) {
	s := newTestServer(t, Options{})
	type result struct {
		ups []resultUpdate
		err string
	}
	done := make(chan result, 1)
	go func() {
		// t.Fatal must not run off the test goroutine: decode by hand here.
		r := callJSONNoFatal(s, "getUpdates", map[string]any{"timeout": 25})
		done <- r
	}()
	// Wait until the poll is really parked, then act as a user.
	waitFor(t, func() bool { return s.Calls("getUpdates") == 1 })
	select {
	case r := <-done:
		t.Fatalf("poll returned before any update: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	id := s.SendText(PrivateChat(ann), ann, "/status now")
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("long poll did not return after an update arrived")
	}
	if r.err != "" {
		t.Fatal(r.err)
	}
	if len(r.ups) != 1 || r.ups[0].UpdateID != id || r.ups[0].Message == nil {
		t.Fatalf("updates = %+v", r.ups)
	}
	m := r.ups[0].Message
	if m.Text != "/status now" || m.Chat.ID != ann.ID || m.Chat.Type != "private" ||
		len(m.Entities) != 1 || m.Entities[0] != (Entity{Type: "bot_command", Length: 7}) {
		t.Fatalf("message = %+v", m)
	}
	if s.FetchedUpdates() != id || s.Pending() != 1 {
		t.Fatalf("fetched=%d pending=%d", s.FetchedUpdates(), s.Pending())
	}
}

func TestLongPollTimesOutEmpty(t *testing.T) {
	s := newTestServer(t, Options{})
	if ups := getUpdates(t, s, map[string]any{"timeout": 1}); len(ups) != 0 {
		t.Fatalf("updates = %+v", ups)
	}
}

func TestOffsetAcknowledges(t *testing.T) {
	s := newTestServer(t, Options{})
	var ids []int64
	for i := range 5 {
		ids = append(ids, s.SendText(group, ann, strings.Repeat("x", i+1)))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("update ids not consecutive: %v", ids)
		}
	}
	ups := getUpdates(t, s, map[string]any{"limit": 2})
	if len(ups) != 2 || ups[0].UpdateID != ids[0] || ups[1].UpdateID != ids[1] {
		t.Fatalf("limit 2: %+v", ups)
	}
	// Without an offset the same updates come again: nothing is acknowledged yet.
	if again := getUpdates(t, s, nil); len(again) != 5 || again[0].UpdateID != ids[0] {
		t.Fatalf("unacknowledged: %+v", again)
	}
	ups = getUpdates(t, s, map[string]any{"offset": ids[2]})
	if len(ups) != 3 || ups[0].UpdateID != ids[2] {
		t.Fatalf("offset %d: %+v", ids[2], ups)
	}
	// Acknowledged updates are gone for good, even if the offset goes back.
	ups = getUpdates(t, s, map[string]any{"offset": ids[0]})
	if len(ups) != 3 || ups[0].UpdateID != ids[2] {
		t.Fatalf("offset back to %d: %+v", ids[0], ups)
	}
	if s.Pending() != 3 {
		t.Fatalf("pending = %d", s.Pending())
	}
	// Negative offset keeps the last ones only.
	ups = getUpdates(t, s, map[string]any{"offset": -1})
	if len(ups) != 1 || ups[0].UpdateID != ids[4] {
		t.Fatalf("offset -1: %+v", ups)
	}
	getUpdates(t, s, map[string]any{"offset": ids[4] + 1})
	if s.Pending() != 0 || s.FetchedUpdates() != ids[4] {
		t.Fatalf("pending=%d fetched=%d", s.Pending(), s.FetchedUpdates())
	}
	// Message ids in a chat are shared by users' messages and keep increasing.
	ups2 := s.SendText(group, bob, "later")
	got := getUpdates(t, s, map[string]any{"offset": ids[4] + 1})
	if len(got) != 1 || got[0].UpdateID != ups2 || got[0].Message.MessageID != 6 {
		t.Fatalf("later update = %+v", got)
	}
}

func TestAllowedUpdates(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SendText(group, ann, "hello")
	_, q := s.PressButton(group, ann, 1, "x")
	ups := getUpdates(t, s, map[string]any{"allowed_updates": []string{"callback_query"}})
	if len(ups) != 1 || ups[0].CallbackQuery == nil || ups[0].CallbackQuery.ID != q {
		t.Fatalf("updates = %+v", ups)
	}
	s.SendText(group, ann, "dropped: messages are not wanted")
	if got := getUpdates(t, s, nil); len(got) != 1 {
		t.Fatalf("the filter persists across calls: %+v", got)
	}
	getUpdates(t, s, map[string]any{"allowed_updates": []string{}})
	s.SendText(group, ann, "wanted again")
	if got := getUpdates(t, s, nil); len(got) != 2 {
		t.Fatalf("an empty list restores every kind: %+v", got)
	}
}

func TestSecondPollerConflicts(t *testing.T) {
	s := newTestServer(t, Options{})
	first := make(chan apiReply, 1)
	go func() {
		first <- rawCall(s, "getUpdates", map[string]any{"timeout": 25})
	}()
	waitFor(t, func() bool { return s.Calls("getUpdates") == 1 })
	if ups := getUpdates(t, s, map[string]any{"timeout": 0}); len(ups) != 0 {
		t.Fatalf("second poll: %+v", ups)
	}
	select {
	case r := <-first:
		if r.Status != http.StatusConflict || r.Description != conflictPoller {
			t.Fatalf("first poll = %d %q", r.Status, r.Description)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("first poll was not terminated")
	}
}

func TestPressButton(t *testing.T) {
	s := newTestServer(t, Options{})
	sent := decodeResult[resultMessage](t, callJSON(t, s, "sendMessage", map[string]any{
		"chat_id": group.ID, "text": "Build failed",
		"reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{{{"text": "Rebuild", "callback_data": "rebuild:7"}}}},
	}))
	upd, q := s.PressButton(group, bob, sent.MessageID, "rebuild:7")
	ups := getUpdates(t, s, nil)
	if len(ups) != 1 || ups[0].UpdateID != upd {
		t.Fatalf("updates = %+v", ups)
	}
	cq := ups[0].CallbackQuery
	if cq == nil || cq.ID != q || cq.Data != "rebuild:7" || cq.Message == nil || cq.Message.MessageID != sent.MessageID ||
		cq.Message.Text != "Build failed" || cq.Message.ReplyMarkup == nil {
		t.Fatalf("callback query = %+v", cq)
	}
	// A query id is good once.
	if r := callJSON(t, s, "answerCallbackQuery", map[string]any{"callback_query_id": q, "text": "Rebuilding"}); !r.OK {
		t.Fatalf("answer: %+v", r)
	}
	r := callJSON(t, s, "answerCallbackQuery", map[string]any{"callback_query_id": q})
	if r.Status != 400 || !strings.Contains(r.Description, "query is too old") {
		t.Fatalf("second answer: %d %q", r.Status, r.Description)
	}
	r = callJSON(t, s, "answerCallbackQuery", map[string]any{"callback_query_id": "nope"})
	if r.Status != 400 {
		t.Fatalf("unknown query answered %d", r.Status)
	}
	answers := s.CallbackAnswers()
	if len(answers) != 1 || answers[0].QueryID != q || answers[0].Text != "Rebuilding" ||
		answers[0].UserID != bob.ID || answers[0].Data != "rebuild:7" || answers[0].ChatID != group.ID {
		t.Fatalf("answers = %+v", answers)
	}
}

// TestPollAccounting: the counts an end-to-end test reads to show that herald's replicas
// never poll at once. Polls one after the other overlap nothing; a poll that arrives while
// another is open is an overlap and costs the open one a 409; a poll whose client went away
// is no longer open; a poll while a webhook is set is a 409 too.
func TestPollAccounting(t *testing.T) {
	s := newTestServer(t, Options{})
	open := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.polls.open
	}
	want := func(overlaps, conflicts int) {
		t.Helper()
		if o, c := s.PollOverlaps(), s.PollConflicts(); o != overlaps || c != conflicts {
			t.Fatalf("overlaps %d, conflicts %d; want %d, %d", o, c, overlaps, conflicts)
		}
	}
	for range 3 {
		getUpdates(t, s, map[string]any{"timeout": 0})
	}
	want(0, 0)

	first := make(chan apiReply, 1)
	go func() { first <- rawCall(s, "getUpdates", map[string]any{"timeout": 25}) }()
	waitFor(t, func() bool { return open() == 1 })
	getUpdates(t, s, map[string]any{"timeout": 0})
	if r := <-first; r.Status != http.StatusConflict {
		t.Fatalf("the first poll: %d %q; want 409", r.Status, r.Description)
	}
	want(1, 1)
	waitFor(t, func() bool { return open() == 0 })
	getUpdates(t, s, map[string]any{"timeout": 0})
	want(1, 1)

	// A client that gives up: its poll ends with it, and the next is no overlap.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+testToken+"/getUpdates",
			strings.NewReader(`{"timeout":25}`))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return open() == 1 })
	cancel()
	waitFor(t, func() bool { return open() == 0 })
	getUpdates(t, s, map[string]any{"timeout": 0})
	want(1, 1)

	if r := callJSON(t, s, "setWebhook", map[string]any{"url": "http://127.0.0.1:9/hook"}); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	if r := callJSON(t, s, "getUpdates", nil); r.Status != http.StatusConflict {
		t.Fatalf("getUpdates with a webhook set: %d; want 409", r.Status)
	}
	want(1, 2)
}
