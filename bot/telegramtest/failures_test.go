package telegramtest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/go-telegram/bot"
)

func TestLimits(t *testing.T) {
	tests := []struct {
		name      string
		limits    Limits
		chats     []int64 // one send per entry, at the same instant
		wantOK    int
		wantRetry int
		advance   time.Duration // then one more send to chats[0] must pass
	}{
		{"per chat 1/s", Limits{PerChatPerSecond: 1}, []int64{42, 42}, 1, 1, time.Second},
		{"global", Limits{Global: 3}, []int64{1, 2, 3, 4}, 3, 1, time.Second},
		{"group per minute", Limits{PerGroupPerMinute: 2}, []int64{-5, -5, -5}, 2, 60, time.Minute},
		{"private chats have no per-minute limit", Limits{PerGroupPerMinute: 1}, []int64{42, 42, 42}, 3, 0, 0},
		{"fixed retry after", Limits{PerChatPerSecond: 1, RetryAfter: 7}, []int64{42, 42}, 1, 7, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			l := tc.limits
			s := newTestServer(t, Options{Limits: &l, Now: clock.Now})
			ok, refused := 0, 0
			for _, chat := range tc.chats {
				r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": chat, "text": "x"})
				if r.OK {
					ok++
					continue
				}
				refused++
				if r.Status != http.StatusTooManyRequests || r.Parameters.RetryAfter != tc.wantRetry ||
					r.Description != "Too Many Requests: retry after "+itoa(int64(tc.wantRetry)) {
					t.Fatalf("refusal = %d %q retry_after=%d", r.Status, r.Description, r.Parameters.RetryAfter)
				}
			}
			if ok != tc.wantOK {
				t.Fatalf("%d sends accepted, want %d", ok, tc.wantOK)
			}
			st := s.Stats()
			if len(s.AllSent()) != ok || st.Sent != ok || st.RateLimited != refused {
				t.Fatalf("recorded %d, stats %+v; refused sends must not be recorded", len(s.AllSent()), st)
			}
			if tc.advance > 0 {
				clock.Advance(tc.advance)
				if r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": tc.chats[0], "text": "x"}); !r.OK {
					t.Fatalf("after the window: %q", r.Description)
				}
			}
		})
	}
}

// The computed retry_after is the time until the window frees, rounded up.
func TestLimitRetryAfterSlides(t *testing.T) {
	clock := newFakeClock()
	s := newTestServer(t, Options{Limits: DefaultLimits(), Now: clock.Now})
	for i := range 20 {
		if r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": group.ID, "text": "x"}); !r.OK {
			t.Fatalf("send %d: %q", i, r.Description)
		}
		clock.Advance(1500 * time.Millisecond)
	}
	// 20 sends over 30s: the first leaves the minute window at 60s, 30s from now.
	r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": group.ID, "text": "x"})
	if r.Status != 429 || r.Parameters.RetryAfter != 30 {
		t.Fatalf("got %d retry_after=%d, want 429 and 30", r.Status, r.Parameters.RetryAfter)
	}
}

func TestFailNext(t *testing.T) {
	s := newTestServer(t, Options{})
	s.FailNext("sendMessage", 7, TooManyRequests(3))
	s.FailNext("sendMessage", 0, ServerError())
	s.FailNext("sendmessage", 0, Blocked())
	sendTo := func(chat int64) apiReply {
		return callJSON(t, s, "sendMessage", map[string]any{"chat_id": chat, "text": "x"})
	}
	// Chat 8 skips the failure meant for chat 7 and takes the first "any chat" one.
	if r := sendTo(8); r.Status != 502 || r.Description != "Bad Gateway" {
		t.Fatalf("first: %d %q", r.Status, r.Description)
	}
	if r := sendTo(7); r.Status != 429 || r.Parameters.RetryAfter != 3 {
		t.Fatalf("second: %d %+v", r.Status, r.Parameters)
	}
	if r := sendTo(7); r.Status != 403 || r.Description != "Forbidden: bot was blocked by the user" {
		t.Fatalf("third: %d %q", r.Status, r.Description)
	}
	if r := sendTo(7); !r.OK {
		t.Fatalf("queue should be empty: %q", r.Description)
	}
	s.FailNext("getMe", 0, Migrated(-100))
	if r := callJSON(t, s, "getMe", nil); r.Parameters.MigrateToChatID != -100 {
		t.Fatalf("getMe: %+v", r)
	}
	if st := s.Stats(); len(s.AllSent()) != 1 || st.Injected != 4 || st.RateLimited != 1 || st.Calls["sendMessage"] != 4 {
		t.Fatalf("sent %d, stats %+v", len(s.AllSent()), s.Stats())
	}
}

func TestOutage(t *testing.T) {
	clock := newFakeClock()
	s := newTestServer(t, Options{Now: clock.Now})
	s.SetOutage(time.Minute)
	for _, m := range []string{"getMe", "getUpdates", "sendMessage"} {
		if r := callJSON(t, s, m, map[string]any{"chat_id": 1, "text": "x"}); r.Status != 502 {
			t.Fatalf("%s during outage: %d", m, r.Status)
		}
	}
	clock.Advance(time.Minute)
	if r := callJSON(t, s, "getMe", nil); !r.OK {
		t.Fatalf("after outage: %q", r.Description)
	}
}

func TestBlockAndMigrate(t *testing.T) {
	s := newTestServer(t, Options{})
	m := send(t, s, map[string]any{"chat_id": ann.ID, "text": "x"})
	s.BlockChat(ann.ID)
	s.BlockChat(-5)
	tests := []struct {
		name   string
		method string
		params map[string]any
		status int
		desc   string
	}{
		{"blocked private", "sendMessage", map[string]any{"chat_id": ann.ID, "text": "x"}, 403, "Forbidden: bot was blocked by the user"},
		{"blocked edit", "editMessageText", map[string]any{"chat_id": ann.ID, "message_id": m.MessageID, "text": "y"}, 403, "Forbidden: bot was blocked by the user"},
		{"kicked group", "sendMessage", map[string]any{"chat_id": -5, "text": "x"}, 403, "Forbidden: bot was kicked from the group chat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := callJSON(t, s, tc.method, tc.params); r.Status != tc.status || r.Description != tc.desc {
				t.Fatalf("got %d %q", r.Status, r.Description)
			}
		})
	}
	s.MigrateChat(-6, -1006)
	r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": -6, "text": "x"})
	if r.Status != 400 || r.Parameters.MigrateToChatID != -1006 {
		t.Fatalf("migrated: %d %+v", r.Status, r)
	}
	got := send(t, s, map[string]any{"chat_id": -1006, "text": "x"})
	if got.Chat.Type != "supergroup" {
		t.Fatalf("new chat: %+v", got)
	}
	if len(s.Messages(-6)) != 0 || len(s.Messages(-1006)) != 1 {
		t.Fatal("messages recorded in the wrong chat")
	}
}

func TestHoldSends(t *testing.T) {
	s := newTestServer(t, Options{})
	s.HoldSends(true)

	// A client that goes away while held: nothing is recorded.
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+testToken+"/sendMessage?chat_id=1&text=lost", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, func() bool { return s.Held() == 1 })
	cancel()
	<-gone
	waitFor(t, func() bool { return s.Held() == 0 })

	// A client that waits: recorded once released.
	done := make(chan apiReply, 1)
	go func() { done <- rawCall(s, "sendMessage", map[string]any{"chat_id": 1, "text": "kept"}) }()
	waitFor(t, func() bool { return s.Held() == 1 })
	if len(s.AllSent()) != 0 {
		t.Fatal("held send recorded")
	}
	s.HoldSends(false)
	if r := <-done; !r.OK {
		t.Fatalf("released send: %q", r.Description)
	}
	if all := s.AllSent(); len(all) != 1 || all[0].Text != "kept" {
		t.Fatalf("sent = %+v", all)
	}
}

// With undecodable results the work is done and the answer is ok:true, but a strict client
// (go-telegram/bot) cannot decode the message.
func TestUndecodableResults(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SetUndecodableResults(true)
	r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": -100, "text": "hi"})
	var m map[string]any
	if err := json.Unmarshal(r.Result, &m); err != nil || !r.OK || r.Status != http.StatusOK {
		t.Fatalf("sendMessage: %d ok=%v %s", r.Status, r.OK, r.Result)
	}
	if _, ok := m["date"].(string); !ok {
		t.Errorf("date = %#v; want a string", m["date"])
	}
	if id, ok := m["chat"].(map[string]any)["id"].(string); !ok || id != "-100" {
		t.Errorf("chat.id = %#v; want \"-100\"", m["chat"])
	}
	if id, ok := m["message_id"].(float64); !ok || int(id) != s.Messages(-100)[0].MessageID {
		t.Errorf("message_id = %#v; want the recorded message's id as a number", m["message_id"])
	}
	b, err := bot.New(testToken, bot.WithServerURL(s.URL()), bot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.EditMessageText(testCtx(t), &bot.EditMessageTextParams{ChatID: -100, MessageID: int(m["message_id"].(float64)), Text: "edited"})
	if err == nil {
		t.Errorf("go-telegram/bot decoded an undecodable result")
	}
	if got := s.Messages(-100); len(got) != 1 || got[0].Text != "edited" {
		t.Errorf("messages = %+v; want the one message, edited", got)
	}
	s.SetUndecodableResults(false)
	if _, err := b.SendMessage(testCtx(t), &bot.SendMessageParams{ChatID: -100, Text: "plain"}); err != nil {
		t.Errorf("after the mode ends: %v", err)
	}
}
