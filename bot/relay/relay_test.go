package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

const (
	secret     = "relay-secret-1"
	chatID     = int64(5023003345)
	groupID    = int64(-1001234567890)
	topicGroup = int64(-1009999)
)

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	st    *store.Store
	h     *Handler
	woken int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, st: storetest.New(t)}
	f.h = New(f.st, Options{
		Tokens: []Token{
			{Name: "allure", Secret: secret, Chats: []Chat{{ID: chatID}, {ID: groupID}, {ID: topicGroup, Thread: 7}}},
			{Name: "other", Secret: "relay-secret-2", Chats: []Chat{{ID: 42}}},
		},
		Now:  func() time.Time { return testNow },
		Wake: func() { f.woken++ },
	}, zerolog.Nop())
	return f
}

// answer is a Bot API envelope as a tool reads it.
type answer struct {
	status      int
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

func (f *fixture) do(req *http.Request) answer {
	f.t.Helper()
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	var a answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		f.t.Fatalf("%s %s: answer %q is not JSON: %v", req.Method, req.URL.Path, rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("Content-Type %q, want application/json", ct)
	}
	a.status = rec.Code
	if a.status != http.StatusOK && a.ErrorCode != a.status {
		f.t.Errorf("HTTP status %d but error_code %d", a.status, a.ErrorCode)
	}
	return a
}

func (f *fixture) postJSON(path string, body any) answer {
	f.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		f.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	return f.do(req)
}

func (f *fixture) send(body any) answer {
	f.t.Helper()
	return f.postJSON("/relay/"+secret+"/sendMessage", body)
}

// outbox reads the queued rows with their relayed calls, in id order.
func (f *fixture) outbox() []queued {
	f.t.Helper()
	ctx := context.Background()
	rows, err := f.st.Pool().Query(ctx, `SELECT id, chat_id, thread_id, text, coalesce(reply_markup, ''), silent FROM outbox ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []queued
	for rows.Next() {
		var q queued
		if err := rows.Scan(&q.id, &q.chat, &q.thread, &q.text, &q.markup, &q.silent); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, q)
	}
	rows.Close()
	for i := range out {
		c, err := f.st.RelayCallOf(ctx, out[i].id)
		if err != nil {
			f.t.Fatalf("relayed call of row %d: %v", out[i].id, err)
		}
		out[i].call = c
	}
	return out
}

type queued struct {
	id, chat, thread int64
	text, markup     string
	silent           bool
	call             store.RelayCall
}

func wantError(t *testing.T, a answer, code int, desc string) {
	t.Helper()
	if a.OK || a.status != code || a.ErrorCode != code || a.Description != desc {
		t.Errorf("answer = %d %+v, want %d %q", a.status, a, code, desc)
	}
}

// TestSendMessageAnswersAsTelegram: a call in the shape of the Allure TestOps article (a JSON
// body, chat_id as a string) is queued and answered with a Message whose id is the outbox row's.
func TestSendMessageAnswersAsTelegram(t *testing.T) {
	f := newFixture(t)
	a := f.send(map[string]any{"chat_id": "5023003345", "text": "alice created <b>nightly</b> in web", "parse_mode": "HTML",
		"disable_notification": true, "reply_markup": map[string]any{"inline_keyboard": [][]map[string]string{{{"text": "open", "url": "https://allure.example.com/launch/1"}}}}})
	if !a.OK || a.status != http.StatusOK {
		t.Fatalf("answer = %+v", a)
	}
	var m message
	if err := json.Unmarshal(a.Result, &m); err != nil {
		t.Fatal(err)
	}
	rows := f.outbox()
	if len(rows) != 1 {
		t.Fatalf("%d rows queued, want 1", len(rows))
	}
	r := rows[0]
	want := message{MessageID: r.id, Date: testNow.Unix(), Chat: messageChat{ID: chatID, Type: "private"}, Text: "alice created nightly in web"}
	if m != want {
		t.Errorf("result = %+v, want %+v", m, want)
	}
	if r.chat != chatID || r.text != "alice created <b>nightly</b> in web" || !r.silent || !strings.Contains(r.markup, `"url":"https://allure.example.com/launch/1"`) {
		t.Errorf("row = %+v", r)
	}
	if r.call.Method != store.RelaySendMessage || r.call.ParseMode != "HTML" || r.call.Options != nil {
		t.Errorf("call = %+v", r.call)
	}
	if f.woken != 1 {
		t.Errorf("sender woken %d times, want 1", f.woken)
	}
}

// TestEncodings: the same call as JSON, as a form, as multipart and in the query string, each
// queued alike, with the method name in any case as Telegram allows.
func TestEncodings(t *testing.T) {
	f := newFixture(t)
	vals := url.Values{"chat_id": {"-1001234567890"}, "text": {"*build* ok\\."}, "parse_mode": {"markdownv2"}, "disable_web_page_preview": {"true"}}
	form := httptest.NewRequest(http.MethodPost, "/relay/"+secret+"/sendMessage", strings.NewReader(vals.Encode()))
	form.Header.Set("Content-Type", "application/x-www-form-urlencoded")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range vals {
		_ = mw.WriteField(k, v[0])
	}
	_ = mw.Close()
	mp := httptest.NewRequest(http.MethodPost, "/relay/"+secret+"/SENDMESSAGE", &body)
	mp.Header.Set("Content-Type", mw.FormDataContentType())

	query := httptest.NewRequest(http.MethodGet, "/relay/"+secret+"/sendmessage?"+vals.Encode(), nil)

	raw, _ := json.Marshal(map[string]any{"chat_id": groupID, "text": "*build* ok\\.", "parse_mode": "MarkdownV2", "disable_web_page_preview": true})
	js := httptest.NewRequest(http.MethodPost, "/relay/"+secret+"/sendMessage", bytes.NewReader(raw))
	js.Header.Set("Content-Type", "application/json; charset=utf-8")

	for name, req := range map[string]*http.Request{"form": form, "multipart": mp, "query": query, "json": js} {
		if a := f.do(req); !a.OK {
			t.Errorf("%s: %+v", name, a)
		}
	}
	rows := f.outbox()
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	for _, r := range rows {
		if r.chat != groupID || r.text != "*build* ok\\." || r.call.ParseMode != "MarkdownV2" ||
			string(r.call.Options) != `{"link_preview_options": {"is_disabled": true}}` {
			t.Errorf("row = %+v, options %s", r, r.call.Options)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	if err := f.st.SaveChat(context.Background(), store.Chat{ID: groupID, Type: "channel", Username: "herald_news"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SaveChat(context.Background(), store.Chat{ID: 77, Type: "private", Username: "stranger"}); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 4097)
	tests := []struct {
		name, path string
		body       map[string]any
		code       int
		desc       string
	}{
		{"unknown token", "/relay/wrong/sendMessage", map[string]any{"chat_id": chatID, "text": "x"}, 401, "Unauthorized"},
		{"token of another", "/relay/relay-secret-2/sendMessage", map[string]any{"chat_id": chatID, "text": "x"}, 403, "Forbidden: this relay token may not write to this chat"},
		{"method not relayed", "/relay/" + secret + "/getUpdates", nil, 404, "Not Found"},
		{"unknown token, method not relayed", "/relay/wrong/deleteMessage", nil, 401, "Unauthorized"},
		{"no method", "/relay/" + secret, nil, 404, "Not Found"},
		{"chat not allowed", "", map[string]any{"chat_id": 99, "text": "x"}, 403, "Forbidden: this relay token may not write to this chat"},
		{"other topic", "", map[string]any{"chat_id": topicGroup, "message_thread_id": 8, "text": "x"}, 403, "Forbidden: this relay token may not write to this topic of the chat"},
		{"unknown username", "", map[string]any{"chat_id": "@nobody", "text": "x"}, 400, "Bad Request: chat not found"},
		{"known username of a chat not allowed", "", map[string]any{"chat_id": "@stranger", "text": "x"}, 403, "Forbidden: this relay token may not write to this chat"},
		{"chat id not a number", "", map[string]any{"chat_id": "launches", "text": "x"}, 400, "Bad Request: chat not found"},
		{"no chat id", "", map[string]any{"text": "x"}, 400, "Bad Request: chat_id is empty"},
		{"no text", "", map[string]any{"chat_id": chatID}, 400, "Bad Request: message text is empty"},
		{"blank text", "", map[string]any{"chat_id": chatID, "text": " \n "}, 400, "Bad Request: message text is empty"},
		{"only markup", "", map[string]any{"chat_id": chatID, "text": "<b> </b>", "parse_mode": "HTML"}, 400, "Bad Request: message text is empty"},
		{"too long", "", map[string]any{"chat_id": chatID, "text": long}, 400, "Bad Request: message is too long"},
		{"too long in UTF-16", "", map[string]any{"chat_id": chatID, "text": strings.Repeat("😀", 2049)}, 400, "Bad Request: message is too long"},
		{"bad HTML", "", map[string]any{"chat_id": chatID, "text": "a <br> b", "parse_mode": "HTML"}, 400, `Bad Request: can't parse entities: Unsupported start tag "br" at byte offset 2`},
		{"MarkdownV2 unescaped", "", map[string]any{"chat_id": chatID, "text": "build 1.2 ok", "parse_mode": "MarkdownV2"}, 400, `Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'`},
		{"parse mode", "", map[string]any{"chat_id": chatID, "text": "x", "parse_mode": "BBCode"}, 400, "Bad Request: unsupported parse_mode"},
		{"reply markup", "", map[string]any{"chat_id": chatID, "text": "x", "reply_markup": "[not json"}, 400, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"NUL in the text", "", map[string]any{"chat_id": chatID, "text": "a\x00b"}, 400, "Bad Request: text must not contain NUL characters"},
		{"link preview options", "", map[string]any{"chat_id": chatID, "text": "x", "link_preview_options": "yes"}, 400, "Bad Request: can't parse link_preview_options JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "/relay/" + secret + "/sendMessage"
			}
			wantError(t, f.postJSON(path, tt.body), tt.code, tt.desc)
		})
	}
	if rows := f.outbox(); len(rows) != 0 {
		t.Errorf("refused calls queued %d rows", len(rows))
	}
	if f.woken != 0 {
		t.Errorf("refused calls woke the sender %d times", f.woken)
	}
}

// TestLimitsAfterParsing: the limit counts the text Telegram shows, so markup does not count
// and a text of exactly 4096 goes.
func TestLimitsAfterParsing(t *testing.T) {
	f := newFixture(t)
	text := "<b>" + strings.Repeat("a", 4090) + "</b>&amp;" + strings.Repeat("😀", 2) + "z"
	if a := f.send(map[string]any{"chat_id": chatID, "text": text, "parse_mode": "HTML"}); !a.OK {
		t.Errorf("4096 units after parsing: %+v", a)
	}
	wantError(t, f.send(map[string]any{"chat_id": chatID, "text": text + "z", "parse_mode": "HTML"}), 400, "Bad Request: message is too long")
}

// TestChats: @username resolves from herald's chats table, and a token limited to a topic
// writes there even when the call names none.
func TestChats(t *testing.T) {
	f := newFixture(t)
	if err := f.st.SaveChat(context.Background(), store.Chat{ID: groupID, Type: "channel", Title: "News", Username: "Herald_News"}); err != nil {
		t.Fatal(err)
	}
	a := f.send(map[string]any{"chat_id": "@herald_news", "text": "released"})
	var m message
	_ = json.Unmarshal(a.Result, &m)
	if !a.OK || m.Chat != (messageChat{ID: groupID, Type: "channel", Title: "News", Username: "Herald_News"}) {
		t.Errorf("answer %+v, chat %+v", a, m.Chat)
	}
	a = f.send(map[string]any{"chat_id": topicGroup, "text": "to the topic"})
	_ = json.Unmarshal(a.Result, &m)
	if !a.OK || m.MessageThreadID != 7 || m.Chat.Type != "group" {
		t.Errorf("answer %+v, message %+v", a, m)
	}
	if a := f.send(map[string]any{"chat_id": topicGroup, "message_thread_id": "7", "text": "to the topic"}); !a.OK {
		t.Errorf("naming the allowed topic: %+v", a)
	}
	rows := f.outbox()
	if len(rows) != 3 || rows[0].chat != groupID || rows[1].thread != 7 || rows[2].thread != 7 {
		t.Errorf("rows = %+v", rows)
	}
}

func multipartRequest(t *testing.T, method string, fields map[string]string, fileField, fileName string, data []byte) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if fileField != "" {
		w, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/relay/"+secret+"/"+method, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

func TestMedia(t *testing.T) {
	f := newFixture(t)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2}, 1000)...)
	chat := map[string]string{"chat_id": "5023003345", "caption": "<i>coverage</i> report", "parse_mode": "HTML"}

	a := f.do(multipartRequest(t, "sendPhoto", chat, "photo", "cov.png", png))
	var m message
	_ = json.Unmarshal(a.Result, &m)
	if !a.OK || m.Caption != "coverage report" || m.Text != "" {
		t.Fatalf("upload: %+v %+v", a, m)
	}
	attach := map[string]string{"chat_id": "5023003345", "document": "attach://report"}
	if a := f.do(multipartRequest(t, "sendDocument", attach, "report", "report.pdf", []byte("%PDF-1.7"))); !a.OK {
		t.Errorf("attach://: %+v", a)
	}
	if a := f.postJSON("/relay/"+secret+"/sendPhoto", map[string]any{"chat_id": chatID, "photo": "https://ci.example.com/badge.png", "has_spoiler": true}); !a.OK {
		t.Errorf("photo by URL: %+v", a)
	}
	if a := f.postJSON("/relay/"+secret+"/sendDocument", map[string]any{"chat_id": chatID, "document": "BQACAgIAAxkBAAIBHmVfile"}); !a.OK {
		t.Errorf("document by file_id: %+v", a)
	}
	rows := f.outbox()
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	if c := rows[0].call; c.Method != store.RelaySendPhoto || c.File.Name != "cov.png" || !bytes.Equal(c.File.Data, png) || rows[0].text != "<i>coverage</i> report" {
		t.Errorf("uploaded photo: %+v", rows[0])
	}
	if c := rows[1].call; c.Method != store.RelaySendDocument || c.File.Name != "report.pdf" || string(c.File.Data) != "%PDF-1.7" || rows[1].text != "" {
		t.Errorf("attached document: %+v", rows[1])
	}
	if c := rows[2].call; c.File.Ref != "https://ci.example.com/badge.png" || c.File.Data != nil || string(c.Options) != `{"has_spoiler": true}` {
		t.Errorf("photo by URL: %+v", c)
	}
	if c := rows[3].call; c.Method != store.RelaySendDocument || c.File.Ref != "BQACAgIAAxkBAAIBHmVfile" {
		t.Errorf("document by file_id: %+v", c)
	}

	for _, tt := range []struct {
		name string
		req  *http.Request
		code int
		desc string
	}{
		{"no photo", multipartRequest(t, "sendPhoto", chat, "", "", nil), 400, "Bad Request: there is no photo in the request"},
		{"no document", multipartRequest(t, "sendDocument", chat, "photo", "x.png", png), 400, "Bad Request: there is no document in the request"},
		{"empty file", multipartRequest(t, "sendDocument", chat, "document", "empty.txt", nil), 400, "Bad Request: file must be non-empty"},
		{"photo over 10 MB", multipartRequest(t, "sendPhoto", chat, "photo", "big.png", make([]byte, maxPhotoBytes+1)), 400, "Bad Request: PHOTO_SAVE_FILE_INVALID"},
		{"caption too long", multipartRequest(t, "sendPhoto", map[string]string{"chat_id": "5023003345", "caption": strings.Repeat("c", 1025)}, "photo", "x.png", png), 400, "Bad Request: message caption is too long"},
		{"document over 50 MB", multipartRequest(t, "sendDocument", chat, "document", "big.bin", make([]byte, maxFileBytes+1)), 413, "Request Entity Too Large"},
		{"body over the limit", multipartRequest(t, "sendDocument", chat, "document", "huge.bin", make([]byte, maxBody+1)), 413, "Request Entity Too Large"},
	} {
		t.Run(tt.name, func(t *testing.T) { wantError(t, f.do(tt.req), tt.code, tt.desc) })
	}
	if n := len(f.outbox()); n != 4 {
		t.Errorf("refused media calls queued rows: %d, want 4", n)
	}
}

// TestStoreDown: a call that cannot be queued is answered 500, as Telegram answers when it
// cannot take a call, so the tool knows to try again; nothing claims it went.
func TestStoreDown(t *testing.T) {
	f := newFixture(t)
	f.st.Close()
	a := f.send(map[string]any{"chat_id": chatID, "text": "x"})
	wantError(t, a, 500, "Internal Server Error")
	if f.woken != 0 {
		t.Error("woke the sender for a call not queued")
	}
}

// TestShapeAsTelegram sends the same calls to the relay and to the fake Bot API, which
// answers as Telegram does, and compares the answers: the same envelope, the same error codes
// and descriptions, and every field of the relay's Message one Telegram's has, of the same
// JSON type.
func TestShapeAsTelegram(t *testing.T) {
	f := newFixture(t)
	tg := telegramtest.New(telegramtest.Options{Token: "1:tg", StrictChats: true})
	defer tg.Close()
	tg.AddChat(telegramtest.Chat{ID: groupID, Type: "supergroup", Title: "CI"})
	calls := []map[string]any{
		{"chat_id": groupID, "text": "<b>green</b> build", "parse_mode": "HTML"},
		{"chat_id": fmt.Sprint(groupID), "text": "plain", "message_thread_id": 3},
		{"chat_id": groupID, "text": ""},
		{"chat_id": groupID, "text": strings.Repeat("y", 4097)},
		{"chat_id": groupID, "text": "<br>", "parse_mode": "HTML"},
		{"chat_id": groupID, "text": "x", "parse_mode": "nope"},
		{"chat_id": "", "text": "x"},
		{"chat_id": "@nobody", "text": "x"},
	}
	for _, body := range calls {
		relayed := f.send(body)
		raw, _ := json.Marshal(body)
		resp, err := http.Post(tg.URL()+"/bot1:tg/sendMessage", "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var direct answer
		err = json.NewDecoder(resp.Body).Decode(&direct)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		direct.status = resp.StatusCode
		if relayed.OK != direct.OK || relayed.status != direct.status || relayed.ErrorCode != direct.ErrorCode || relayed.Description != direct.Description {
			t.Errorf("%v: relay answered %d %+v, Telegram %d %+v", body, relayed.status, relayed, direct.status, direct)
			continue
		}
		if !relayed.OK {
			continue
		}
		compareShape(t, fmt.Sprint(body), relayed.Result, direct.Result)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(relayed.Result, &m)
		for _, k := range []string{"message_id", "date", "chat", "text"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%v: relay result lacks %q: %s", body, k, relayed.Result)
			}
		}
	}
}

// compareShape checks that every field of got is in want with the same JSON type, objects
// compared field by field.
func compareShape(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	var g, w map[string]json.RawMessage
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: relay result %s: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: Telegram result %s: %v", what, want, err)
	}
	for k, gv := range g {
		wv, ok := w[k]
		if !ok {
			t.Errorf("%s: relay answers field %q Telegram's Message lacks (Telegram: %s)", what, k, want)
			continue
		}
		if gk, wk := jsonKind(gv), jsonKind(wv); gk != wk {
			t.Errorf("%s: field %q is a %s from the relay, a %s from Telegram", what, k, gk, wk)
		} else if gk == "object" {
			compareShape(t, what+"."+k, gv, wv)
		}
	}
}

func jsonKind(raw json.RawMessage) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}
