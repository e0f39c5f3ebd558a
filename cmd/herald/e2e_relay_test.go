package main

// End-to-end: a tool that only knows Telegram's URL (the Allure TestOps article in
// seeds/000_*.txt) pointed at the real herald's relay instead, with the fake Bot API enforcing
// Telegram's limits.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
)

const (
	relayE2EToken = "e2e-relay-token-0123456789abcdef"
	relayChat     = int64(5023003345)
	relayGroup    = int64(-1001234567890)
	relayTopics   = int64(-1001234500000)
)

// botAnswer is a Bot API answer as a tool reads it, with its HTTP status.
type botAnswer struct {
	Status      int             `json:"-"`
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

func postBot(t *testing.T, url, contentType string, body []byte) botAnswer {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a botAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %q is not a Bot API object: %v", raw, err)
	}
	a.Status = resp.StatusCode
	return a
}

func postBotJSON(t *testing.T, url string, body any) botAnswer {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return postBot(t, url, "application/json", raw)
}

// fieldKinds maps each field of a JSON object to its JSON kind, objects one level down as
// "parent.field".
func fieldKinds(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	out := map[string]string{}
	var walk func(prefix string, o map[string]any)
	walk = func(prefix string, o map[string]any) {
		for k, v := range o {
			switch v := v.(type) {
			case map[string]any:
				out[prefix+k] = "object"
				walk(prefix+k+".", v)
			case []any:
				out[prefix+k] = "array"
			case string:
				out[prefix+k] = "string"
			case float64:
				out[prefix+k] = "number"
			case bool:
				out[prefix+k] = "boolean"
			default:
				out[prefix+k] = "null"
			}
		}
	}
	walk("", obj)
	return out
}

func TestE2ERelay(t *testing.T) {
	// Telegram's limits, ten times faster, so the burst after the 429 is quick but limited.
	tg := newFakeTelegram(t, &telegramtest.Limits{Global: 300, PerChatPerSecond: 10, PerGroupPerMinute: 200})
	tg.AddChat(telegramtest.Chat{ID: relayGroup, Type: "supergroup", Title: "QA"})
	tg.AddChat(telegramtest.Chat{ID: relayTopics, Type: "supergroup", Title: "CI topics", IsForum: true})
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf(`relay:
  tokens:
    - name: allure
      token: "${RELAY_TOKEN_ALLURE}"
      chats: [%d, %d, {id: %d, thread: 7}]
`, relayChat, relayGroup, relayTopics)})
	h.env = append(h.env, "RELAY_TOKEN_ALLURE="+relayE2EToken)
	h.start()
	relayURL := "http://" + h.addr + "/relay/" + relayE2EToken + "/"
	directURL := tg.URL() + "/bot" + testToken + "/"

	// The article's call, as Allure TestOps makes it: a JSON body, chat_id as a string.
	allure := map[string]any{"chat_id": fmt.Sprint(relayChat), "text": "alice created <b>nightly</b> in project web. Link: https://allure.example.com/launch/42", "parse_mode": "HTML"}
	relayed := postBotJSON(t, relayURL+"sendMessage", allure)
	direct := postBotJSON(t, directURL+"sendMessage", allure)
	if !relayed.OK || relayed.Status != http.StatusOK {
		t.Fatalf("relay answered %d %+v", relayed.Status, relayed)
	}
	relayedKinds, directKinds := fieldKinds(t, relayed.Result), fieldKinds(t, direct.Result)
	for k, kind := range relayedKinds {
		if directKinds[k] != kind {
			t.Errorf("result field %s is a %s from the relay, a %q from Telegram (%s)", k, kind, directKinds[k], direct.Result)
		}
	}
	for _, k := range []string{"message_id", "date", "chat", "chat.id", "chat.type", "text"} {
		if relayedKinds[k] == "" {
			t.Errorf("the relay's result lacks %s: %s", k, relayed.Result)
		}
	}
	var got struct {
		Text string `json:"text"`
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
	}
	_ = json.Unmarshal(relayed.Result, &got)
	var want struct{ Text string }
	_ = json.Unmarshal(direct.Result, &want)
	if got.Text != want.Text || got.Chat.ID != relayChat {
		t.Errorf("relay result text %q chat %d, Telegram's %q", got.Text, got.Chat.ID, want.Text)
	}
	msgs := waitMessages(t, tg, relayChat, 2) // the direct one and the relayed one
	if msgs[1].Text != allure["text"] || msgs[1].ParseMode != "HTML" {
		t.Errorf("delivered %+v", msgs[1])
	}

	// Refusals answer as Telegram's own do, where the fake answers the same call.
	for _, c := range []struct {
		name, method string
		body         map[string]any
	}{
		{"empty text", "sendMessage", map[string]any{"chat_id": relayGroup, "text": ""}},
		{"too long", "sendMessage", map[string]any{"chat_id": relayGroup, "text": strings.Repeat("x", 4097)}},
		{"bad HTML", "sendMessage", map[string]any{"chat_id": relayGroup, "text": "<div>x</div>", "parse_mode": "HTML"}},
		{"unknown @username", "sendMessage", map[string]any{"chat_id": "@nobody_here", "text": "x"}},
		{"method not relayed", "sendSticker", map[string]any{"chat_id": relayGroup, "sticker": "x"}},
	} {
		r, d := postBotJSON(t, relayURL+c.method, c.body), postBotJSON(t, directURL+c.method, c.body)
		if r.OK || r.Status != d.Status || r.ErrorCode != d.ErrorCode || r.Description != d.Description {
			t.Errorf("%s: relay %d %+v, Telegram %d %+v", c.name, r.Status, r, d.Status, d)
		}
	}
	for _, c := range []struct {
		name, url string
		body      map[string]any
		code      int
		desc      string
	}{
		{"wrong token", "http://" + h.addr + "/relay/not-the-token-0123456789/sendMessage", map[string]any{"chat_id": relayChat, "text": "x"}, 401, "Unauthorized"},
		{"the bot's own token", "http://" + h.addr + "/relay/" + testToken + "/sendMessage", map[string]any{"chat_id": relayChat, "text": "x"}, 401, "Unauthorized"},
		{"chat not allowed", relayURL + "sendMessage", map[string]any{"chat_id": 777, "text": "x"}, 403, "Forbidden: this relay token may not write to this chat"},
		{"other topic", relayURL + "sendMessage", map[string]any{"chat_id": relayTopics, "message_thread_id": 8, "text": "x"}, 403, "Forbidden: this relay token may not write to this topic of the chat"},
	} {
		r := postBotJSON(t, c.url, c.body)
		if r.OK || r.Status != c.code || r.ErrorCode != c.code || r.Description != c.desc {
			t.Errorf("%s: %d %+v, want %d %q", c.name, r.Status, r, c.code, c.desc)
		}
	}

	// Through a 429: the relay has answered ok long before Telegram takes the message; herald
	// waits out retry_after and delivers it once, in order with the next.
	before := tg.Stats().RateLimited
	tg.FailNext("sendMessage", relayGroup, telegramtest.TooManyRequests(2))
	for i := 1; i <= 3; i++ {
		vals := fmt.Sprintf("chat_id=%d&text=launch+%d+closed", relayGroup, i)
		if a := postBot(t, relayURL+"sendMessage", "application/x-www-form-urlencoded", []byte(vals)); !a.OK {
			t.Fatalf("form call %d: %+v", i, a)
		}
	}
	group := waitMessages(t, tg, relayGroup, 3)
	for i, m := range group {
		if m.Text != fmt.Sprintf("launch %d closed", i+1) {
			t.Errorf("group message %d = %q", i, m.Text)
		}
	}
	if tg.Stats().RateLimited != before+1 {
		t.Errorf("429s answered: %d, want the one injected", tg.Stats().RateLimited-before)
	}

	// A topic-limited token writes to its topic; a photo uploaded to herald is uploaded on.
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 2048)...)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("chat_id", fmt.Sprint(relayTopics))
	_ = mw.WriteField("caption", "coverage <b>92%</b>")
	_ = mw.WriteField("parse_mode", "HTML")
	fw, _ := mw.CreateFormFile("photo", "coverage.png")
	_, _ = fw.Write(png)
	_ = mw.Close()
	if a := postBot(t, relayURL+"sendPhoto", mw.FormDataContentType(), body.Bytes()); !a.OK {
		t.Fatalf("sendPhoto: %+v", a)
	}
	topic := waitMessages(t, tg, relayTopics, 1)
	if m := topic[0]; m.ThreadID != 7 || m.Media == nil || m.Media.FileName != "coverage.png" || !bytes.Equal(m.Media.Data, png) || m.Text != "coverage <b>92%</b>" {
		t.Errorf("photo delivered as %+v", m)
	}
	waitOutboxEmpty(t, h)
	if n := dbCount(t, h, `SELECT count(*) FROM outbox_media`); n != 0 {
		t.Errorf("%d relayed calls left after delivery", n)
	}
	if strings.Contains(h.logs.String(), relayE2EToken) {
		t.Error("herald's logs contain the relay token")
	}
}
