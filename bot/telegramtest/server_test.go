package telegramtest

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRoutingAndAuth(t *testing.T) {
	var log bytes.Buffer
	s := newTestServer(t, Options{Log: &syncWriter{w: &log}})
	tests := []struct {
		name   string
		path   string
		status int
		desc   string
	}{
		{"wrong token", "/bot999:wrong/getMe", http.StatusUnauthorized, "Unauthorized"},
		{"unknown method", "/bot" + testToken + "/sendPigeon", http.StatusNotFound, "Not Found"},
		{"no bot prefix", "/getMe", http.StatusNotFound, "Not Found"},
		{"no method", "/bot" + testToken, http.StatusNotFound, "Not Found"},
		{"ok", "/bot" + testToken + "/getMe", http.StatusOK, ""},
		{"case-insensitive method", "/bot" + testToken + "/GETME", http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(s.URL()+tc.path, "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var r apiReply
			if err := decodeJSON(resp, &r); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || r.Description != tc.desc || r.OK != (tc.status == 200) {
				t.Fatalf("got %d ok=%v %q, want %d %q", resp.StatusCode, r.OK, r.Description, tc.status, tc.desc)
			}
			if !r.OK && r.ErrorCode != tc.status {
				t.Fatalf("error_code %d, want %d", r.ErrorCode, tc.status)
			}
		})
	}
	if s.Calls("getMe") != 2 {
		t.Fatalf("Calls(getMe) = %d, want 2", s.Calls("getMe"))
	}
	if strings.Contains(log.String(), "TEST-token") || strings.Contains(log.String(), "999:wrong") {
		t.Fatalf("log leaks a token:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "method=getMe status=200") {
		t.Fatalf("log lacks requests:\n%s", log.String())
	}
}

func TestGetMe(t *testing.T) {
	s := newTestServer(t, Options{BotUsername: "my_bot", BotID: 555})
	me := decodeResult[struct {
		ID       int64  `json:"id"`
		IsBot    bool   `json:"is_bot"`
		Username string `json:"username"`
	}](t, callJSON(t, s, "getMe", nil))
	if me.ID != 555 || !me.IsBot || me.Username != "my_bot" {
		t.Fatalf("getMe = %+v", me)
	}
}

// Every encoding a client may use must reach sendMessage with the same meaning.
func TestBodyEncodings(t *testing.T) {
	markup := `{"inline_keyboard":[[{"text":"Go","callback_data":"go:1"}]]}`
	tests := []struct {
		name string
		call func(t *testing.T, s *Server) apiReply
	}{
		{"json", func(t *testing.T, s *Server) apiReply {
			return callJSON(t, s, "sendMessage", map[string]any{
				"chat_id": 42, "text": "<b>hi</b>", "parse_mode": "HTML", "disable_notification": true,
				"reply_markup":         map[string]any{"inline_keyboard": [][]map[string]string{{{"text": "Go", "callback_data": "go:1"}}}},
				"link_preview_options": map[string]any{"is_disabled": true},
			})
		}},
		{"json with string chat_id and markup as string", func(t *testing.T, s *Server) apiReply {
			return callJSON(t, s, "sendMessage", map[string]any{
				"chat_id": "42", "text": "<b>hi</b>", "parse_mode": "HTML", "disable_notification": "true",
				"reply_markup": markup, "disable_web_page_preview": true,
			})
		}},
		{"urlencoded", func(t *testing.T, s *Server) apiReply {
			return callForm(t, s, "sendMessage", url.Values{
				"chat_id": {"42"}, "text": {"<b>hi</b>"}, "parse_mode": {"HTML"}, "disable_notification": {"true"},
				"reply_markup": {markup}, "link_preview_options": {`{"is_disabled":true}`},
			})
		}},
		{"multipart", func(t *testing.T, s *Server) apiReply {
			return callMultipart(t, s, "sendMessage", map[string]string{
				"chat_id": "42", "text": "<b>hi</b>", "parse_mode": "HTML", "disable_notification": "true",
				"reply_markup": markup, "link_preview_options": `{"is_disabled":true}`,
			})
		}},
		{"query string", func(t *testing.T, s *Server) apiReply {
			q := url.Values{"chat_id": {"42"}, "text": {"<b>hi</b>"}, "parse_mode": {"HTML"},
				"disable_notification": {"1"}, "reply_markup": {markup}, "disable_web_page_preview": {"true"}}
			return do(t, testCtx(t), s, "sendMessage?"+q.Encode(), "", nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			got := decodeResult[resultMessage](t, tc.call(t, s))
			if got.Text != "hi" || len(got.Entities) != 1 || got.Entities[0].Type != "bold" || got.Chat.ID != 42 || !got.From.IsBot {
				t.Fatalf("result = %+v", got)
			}
			msgs := s.Messages(42)
			want := Message{ChatID: 42, MessageID: 1, Text: "<b>hi</b>", ParseMode: "HTML",
				Keyboard: [][]Button{{{Text: "Go", CallbackData: "go:1"}}}, Silent: true, NoPreview: true}
			if len(msgs) != 1 {
				t.Fatalf("messages = %+v", msgs)
			}
			m := msgs[0]
			m.SentAt = want.SentAt
			if !messagesEqual(m, want) {
				t.Fatalf("recorded %+v, want %+v", m, want)
			}
		})
	}
}

func TestMalformedBodies(t *testing.T) {
	s := newTestServer(t, Options{})
	tests := []struct {
		name, ct, body string
	}{
		{"bad json", "application/json", `{"chat_id":`},
		{"json array", "application/json", `[1,2]`},
		{"multipart without boundary", "multipart/form-data", "x"},
		{"unknown content type", "text/plain", "chat_id=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, testCtx(t), s, "sendMessage", tc.ct, strings.NewReader(tc.body))
			if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.Description, "Bad Request: ") {
				t.Fatalf("got %d %q", r.Status, r.Description)
			}
		})
	}
}
