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
