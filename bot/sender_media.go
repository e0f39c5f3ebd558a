package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/herald-ci/herald/store"
)

// callRelayed sends a relayed row (bot/relay) as the tool's call asked: its method, its parse
// mode, its options, and its file, uploaded from the bytes herald keeps or named by URL or
// file_id. It returns the message id Telegram gave.
func (s *Sender) callRelayed(ctx context.Context, q store.Queued, c store.RelayCall) (int, error) {
	p := relayParams(q, c)
	field := ""
	switch c.Method {
	case store.RelaySendMessage:
	case store.RelaySendPhoto:
		field = "photo"
	case store.RelaySendDocument:
		field = "document"
	default:
		return 0, fmt.Errorf("bot: relayed call: unknown method %q", c.Method)
	}
	if field == "" || len(c.File.Data) == 0 {
		if field != "" {
			p[field] = c.File.Ref
		}
		res, err := s.tg.call(ctx, c.Method, p)
		if err != nil {
			return 0, fmt.Errorf("bot: relay %s: %w", c.Method, err)
		}
		return messageID(res), nil
	}
	res, err := s.tg.upload(ctx, c.Method, p, field, c.File)
	if err != nil {
		return 0, fmt.Errorf("bot: relay %s: %w", c.Method, err)
	}
	return messageID(res), nil
}

// relayParams are a relayed call's parameters but its file.
func relayParams(q store.Queued, c store.RelayCall) map[string]any {
	p := map[string]any{"chat_id": q.ChatID}
	if q.Text != "" {
		key := "caption"
		if c.Method == store.RelaySendMessage {
			key = "text"
		}
		p[key] = q.Text
	}
	if c.ParseMode != "" {
		p["parse_mode"] = c.ParseMode
	}
	if q.ThreadID != 0 {
		p["message_thread_id"] = q.ThreadID
	}
	if q.Silent {
		p["disable_notification"] = true
	}
	if len(q.ReplyMarkup) > 0 {
		p["reply_markup"] = json.RawMessage(q.ReplyMarkup)
	}
	var opts map[string]json.RawMessage
	if json.Unmarshal(c.Options, &opts) == nil {
		for k, v := range opts {
			p[k] = v
		}
	}
	return p
}

// upload posts params and the file as multipart/form-data, the one way the Bot API takes a
// file's bytes, and returns the result of an ok:true answer as call does.
func (a *rawAPI) upload(ctx context.Context, method string, params map[string]any, field string, f store.RelayFile) (json.RawMessage, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range params {
		if err := mw.WriteField(k, formValue(v)); err != nil {
			return nil, fmt.Errorf("bot: %s: encode: %w", method, err)
		}
	}
	name := f.Name
	if name == "" {
		name = field
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, field, quoteFormName(name)))
	ct := f.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, fmt.Errorf("bot: %s: encode: %w", method, err)
	}
	if _, err := w.Write(f.Data); err != nil {
		return nil, fmt.Errorf("bot: %s: encode: %w", method, err)
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("bot: %s: encode: %w", method, err)
	}
	return a.post(ctx, method, mw.FormDataContentType(), &body)
}

// formValue is a parameter as a form field carries it: strings as they are, everything else
// in its JSON spelling, which the Bot API reads in form fields too.
func formValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case json.RawMessage:
		return string(v)
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

var formNameEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "", "\n", "")

func quoteFormName(s string) string { return formNameEscaper.Replace(s) }
