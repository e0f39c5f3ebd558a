package telegramtest

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"
)

func TestSendMedia(t *testing.T) {
	s := newTestServer(t, Options{Limits: &Limits{PerChatPerSecond: 1}})
	ctx := testCtx(t)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("chat_id", "42")
	_ = mw.WriteField("caption", "<b>cov</b>erage")
	_ = mw.WriteField("parse_mode", "HTML")
	_ = mw.WriteField("photo", "attach://shot")
	fw, _ := mw.CreateFormFile("shot", "shot.png")
	_, _ = fw.Write([]byte("\x89PNG\x00data"))
	_ = mw.Close()
	r := do(t, ctx, s, "sendPhoto", mw.FormDataContentType(), &body)
	res := decodeResult[struct {
		MessageID int    `json:"message_id"`
		Caption   string `json:"caption"`
		Photo     []struct {
			FileID   string `json:"file_id"`
			FileSize int    `json:"file_size"`
		} `json:"photo"`
	}](t, r)
	if res.Caption != "coverage" || len(res.Photo) != 1 || res.Photo[0].FileID == "" || res.Photo[0].FileSize != 9 {
		t.Errorf("result = %+v", res)
	}
	msgs := s.Messages(42)
	if len(msgs) != 1 || msgs[0].Media == nil || msgs[0].Media.FileName != "shot.png" || string(msgs[0].Media.Data) != "\x89PNG\x00data" || msgs[0].Text != "<b>cov</b>erage" {
		t.Fatalf("messages = %+v", msgs)
	}

	// Flood limits count media like texts: a second send to the chat within the second is refused.
	if r := callJSON(t, s, "sendDocument", map[string]any{"chat_id": 42, "document": "https://x.example/r.pdf"}); r.ErrorCode != 429 {
		t.Errorf("second send within a second: %+v", r)
	}
	for _, c := range []struct {
		method string
		params map[string]any
		want   string
	}{
		{"sendPhoto", map[string]any{"chat_id": 43}, "Bad Request: there is no photo in the request"},
		{"sendDocument", map[string]any{"chat_id": 44, "document": "attach://missing"}, "Bad Request: there is no document in the request"},
		{"sendDocument", map[string]any{"chat_id": 45, "document": "x", "caption": strings.Repeat("c", 1025)}, "Bad Request: message caption is too long"},
		{"sendPhoto", map[string]any{"chat_id": 46, "photo": "x", "caption": "<b>", "parse_mode": "HTML"}, `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
	} {
		if r := callJSON(t, s, c.method, c.params); r.OK || r.Description != c.want {
			t.Errorf("%s %v: %+v, want %q", c.method, c.params, r, c.want)
		}
	}
	if r := callJSON(t, s, "sendDocument", map[string]any{"chat_id": 47, "document": "BQAC-file-id"}); !r.OK {
		t.Errorf("document by file_id: %+v", r)
	} else if m := s.Messages(47); len(m) != 1 || m[0].Media.Ref != "BQAC-file-id" || m[0].Media.Method != "sendDocument" {
		t.Errorf("document by file_id recorded as %+v", m)
	}
}
