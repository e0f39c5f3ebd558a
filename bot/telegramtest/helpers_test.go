package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

const testToken = "123456:TEST-token"

// apiReply is a decoded Bot API envelope.
type apiReply struct {
	Status      int
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// do posts a body to a method and decodes the reply.
func do(t *testing.T, ctx context.Context, s *Server, method, contentType string, body io.Reader) apiReply {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/bot"+testToken+"/"+method, body)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	var r apiReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("%s: decoding reply: %v", method, err)
	}
	r.Status = resp.StatusCode
	if r.OK != (resp.StatusCode == http.StatusOK) {
		t.Fatalf("%s: ok=%v with HTTP %d", method, r.OK, resp.StatusCode)
	}
	if !r.OK && r.ErrorCode != resp.StatusCode {
		t.Fatalf("%s: error_code %d with HTTP %d", method, r.ErrorCode, resp.StatusCode)
	}
	return r
}

// callJSON calls a method with a JSON body.
func callJSON(t *testing.T, s *Server, method string, params map[string]any) apiReply {
	t.Helper()
	body, err := json.Marshal(params)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return do(t, testCtx(t), s, method, "application/json", bytes.NewReader(body))
}

// callForm calls a method with an urlencoded body.
func callForm(t *testing.T, s *Server, method string, vals url.Values) apiReply {
	t.Helper()
	return do(t, testCtx(t), s, method, "application/x-www-form-urlencoded", bytes.NewReader([]byte(vals.Encode())))
}

// callMultipart calls a method with a multipart body, as go-telegram/bot does.
func callMultipart(t *testing.T, s *Server, method string, fields map[string]string) apiReply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatalf("write field: %v", err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatalf("close multipart: %v", err)
	}
	return do(t, testCtx(t), s, method, mw.FormDataContentType(), &buf)
}

func decodeResult[T any](t *testing.T, r apiReply) T {
	t.Helper()
	if !r.OK {
		t.Fatalf("call failed: %d %s", r.ErrorCode, r.Description)
	}
	var v T
	if err := json.Unmarshal(r.Result, &v); err != nil {
		t.Fatalf("decoding result %s: %v", r.Result, err)
	}
	return v
}

type resultMessage struct {
	MessageID       int      `json:"message_id"`
	MessageThreadID int64    `json:"message_thread_id"`
	Text            string   `json:"text"`
	Entities        []Entity `json:"entities"`
	Chat            struct {
		ID   int64  `json:"id"`
		Type string `json:"type"`
	} `json:"chat"`
	From struct {
		ID    int64 `json:"id"`
		IsBot bool  `json:"is_bot"`
	} `json:"from"`
	ReplyMarkup *struct {
		InlineKeyboard [][]Button `json:"inline_keyboard"`
	} `json:"reply_markup"`
}

type resultUpdate struct {
	UpdateID      int64          `json:"update_id"`
	Message       *resultMessage `json:"message"`
	CallbackQuery *struct {
		ID      string         `json:"id"`
		Data    string         `json:"data"`
		Message *resultMessage `json:"message"`
	} `json:"callback_query"`
}

// fakeClock is a settable clock for limits and outages.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	ann   = User{ID: 42, FirstName: "Ann", Username: "ann"}
	bob   = User{ID: 43, FirstName: "Bob", Username: "bob"}
	group = Chat{ID: -1001234567890, Type: "supergroup", Title: "CI"}
)

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func decodeJSON(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func messagesEqual(a, b Message) bool {
	return a.ChatID == b.ChatID && a.ThreadID == b.ThreadID && a.MessageID == b.MessageID &&
		a.Text == b.Text && a.ParseMode == b.ParseMode && keyboardsEqual(a.Keyboard, b.Keyboard) &&
		a.Silent == b.Silent && a.NoPreview == b.NoPreview && a.Edits == b.Edits && a.Deleted == b.Deleted &&
		a.SentAt.Equal(b.SentAt)
}

// rawCall is callJSON for goroutines other than the test's: it never calls t.Fatal.
func rawCall(s *Server, method string, params map[string]any) apiReply {
	body, _ := json.Marshal(params)
	resp, err := http.Post(s.URL()+"/bot"+testToken+"/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		return apiReply{Description: err.Error()}
	}
	defer resp.Body.Close()
	var r apiReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		r.Description = err.Error()
	}
	r.Status = resp.StatusCode
	return r
}

func callJSONNoFatal(s *Server, method string, params map[string]any) (out struct {
	ups []resultUpdate
	err string
}) {
	r := rawCall(s, method, params)
	if !r.OK {
		out.err = r.Description
		return out
	}
	if err := json.Unmarshal(r.Result, &out.ups); err != nil {
		out.err = err.Error()
	}
	return out
}

// waitFor polls cond with a generous deadline; for conditions with no event to wait on.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newFuzzRequest(ct, body string) *http.Request {
	r, err := http.NewRequest(http.MethodPost, "http://x/bot1/sendMessage", bytes.NewReader([]byte(body)))
	if err != nil {
		panic(err)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}
