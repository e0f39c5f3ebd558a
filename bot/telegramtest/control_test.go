package telegramtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestControlAPI(t *testing.T) {
	var (
		mu      sync.Mutex
		printed []Message
	)
	s := newTestServer(t, Options{OnMessage: func(m Message) {
		mu.Lock()
		defer mu.Unlock()
		printed = append(printed, m)
	}})
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(s.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, out := post("/fake/send", `{"chat_id":-1001,"chat_type":"supergroup","user_id":42,"username":"ann","text":"/status","thread_id":5}`)
	if status != 200 || out["update_id"] == nil {
		t.Fatalf("send: %d %v", status, out)
	}
	ups := getUpdates(t, s, nil)
	if len(ups) != 1 || ups[0].Message.Chat.ID != -1001 || ups[0].Message.MessageThreadID != 5 || ups[0].Message.Text != "/status" {
		t.Fatalf("updates = %+v", ups)
	}
	m := send(t, s, map[string]any{"chat_id": -1001, "text": "ok", "reply_markup": kb("d")})
	status, out = post("/fake/press", `{"chat_id":-1001,"user_id":42,"message_id":`+itoa(int64(m.MessageID))+`,"data":"d"}`)
	if status != 200 || out["query_id"] == "" {
		t.Fatalf("press: %d %v", status, out)
	}
	if status, _ := post("/fake/send", `{"text":"no user"}`); status != 400 {
		t.Fatalf("send without user_id: %d", status)
	}

	resp, err := http.Get(s.URL() + "/fake/messages?chat_id=-1001")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []struct {
		MessageID int    `json:"message_id"`
		Text      string `json:"text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Text != "ok" || msgs[0].MessageID != m.MessageID {
		t.Fatalf("messages = %+v", msgs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(printed) != 1 || printed[0].Text != "ok" {
		t.Fatalf("OnMessage saw %+v", printed)
	}
}

// TestControlSendOnBehalfOfChat: /fake/send plays the senders Telegram documents besides a
// person — an anonymous admin (sender_chat is the group, from GroupAnonymousBot), someone
// posting as a channel (from Channel_Bot) and a channel post forwarded into its discussion
// group (from 777000, is_automatic_forward) — so herald can be tried against them by hand.
func TestControlSendOnBehalfOfChat(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct {
		name, body       string
		fromID           int64
		fromBot          bool
		senderID         int64
		senderType       string
		automaticForward bool
	}{
		{"anonymous admin", `{"chat_id":-1001,"chat_type":"supergroup","chat_title":"Team","sender_chat":{"id":-1001},"text":"/getid"}`,
			1087968824, true, -1001, "supergroup", false},
		{"as a channel", `{"chat_id":-1001,"sender_chat":{"id":-1002,"title":"News"},"text":"/getid"}`,
			136817688, true, -1002, "channel", false},
		{"automatic forward", `{"chat_id":-1001,"sender_chat":{"id":-1002,"type":"channel","title":"News"},"is_automatic_forward":true,"text":"/force all"}`,
			777000, false, -1002, "channel", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(s.URL()+"/fake/send", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("send: %d", resp.StatusCode)
			}
			r := callJSON(t, s, "getUpdates", map[string]any{"timeout": 0})
			var ups []struct {
				UpdateID int64 `json:"update_id"`
				Message  struct {
					From struct {
						ID    int64 `json:"id"`
						IsBot bool  `json:"is_bot"`
					} `json:"from"`
					SenderChat *struct {
						ID    int64  `json:"id"`
						Type  string `json:"type"`
						Title string `json:"title"`
					} `json:"sender_chat"`
					Chat struct {
						ID int64 `json:"id"`
					} `json:"chat"`
					IsAutomaticForward bool            `json:"is_automatic_forward"`
					ForwardOrigin      json.RawMessage `json:"forward_origin"`
				} `json:"message"`
			}
			if err := json.Unmarshal(r.Result, &ups); err != nil || len(ups) != 1 {
				t.Fatalf("updates %s: %v", r.Result, err)
			}
			m := ups[0].Message
			if m.From.ID != tt.fromID || m.From.IsBot != tt.fromBot || m.Chat.ID != -1001 {
				t.Errorf("from = %+v in chat %d; want %d (bot %v) in -1001", m.From, m.Chat.ID, tt.fromID, tt.fromBot)
			}
			if m.SenderChat == nil || m.SenderChat.ID != tt.senderID || m.SenderChat.Type != tt.senderType {
				t.Errorf("sender_chat = %+v; want %d (%s)", m.SenderChat, tt.senderID, tt.senderType)
			}
			if m.IsAutomaticForward != tt.automaticForward || (len(m.ForwardOrigin) > 0) != tt.automaticForward {
				t.Errorf("is_automatic_forward = %v, forward_origin %s", m.IsAutomaticForward, m.ForwardOrigin)
			}
			callJSON(t, s, "getUpdates", map[string]any{"offset": ups[0].UpdateID + 1, "timeout": 0})
		})
	}
	for _, bad := range []string{`{"chat_id":-1001,"sender_chat":{"title":"x"},"text":"a"}`,
		`{"chat_id":-1001,"sender_chat":{"id":-1001},"is_automatic_forward":true,"text":"a"}`,
		`{"chat_id":-1001,"is_automatic_forward":true,"user_id":4,"text":"a"}`} {
		resp, err := http.Post(s.URL()+"/fake/send", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
}
