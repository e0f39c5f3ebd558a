package relay

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/herald-ci/herald/store"
)

// call is a checked relayed call: the outbox row, how it goes out, and what the answer says.
type call struct {
	msg   store.OutMessage
	call  store.RelayCall
	chat  store.Chat
	plain string // the text or caption as Telegram will show it
}

// passOn are the parameters herald hands on to Telegram as they are, by method, with the
// JSON kind each holds ('{' an object, '[' an array, 'b' a boolean). Anything else a tool sends
// (reply_to_message_id, say: herald's message ids are not Telegram's) is left out, as Telegram
// ignores parameters it does not know.
var passOn = map[string]map[string]byte{
	store.RelaySendMessage: {"link_preview_options": '{', "entities": '[', "protect_content": 'b'},
	store.RelaySendPhoto: {"caption_entities": '[', "protect_content": 'b', "has_spoiler": 'b',
		"show_caption_above_media": 'b'},
	store.RelaySendDocument: {"caption_entities": '[', "protect_content": 'b', "disable_content_type_detection": 'b'},
}

// build checks a call as Telegram would and makes it into an outbox row.
func (h *Handler) build(ctx context.Context, tok *token, method string, p params) (call, *apiError) {
	chat, thread, apiErr := h.resolveChat(ctx, tok, p)
	if apiErr != nil {
		return call{}, apiErr
	}
	mode, ok := canonicalMode(p.str("parse_mode"))
	if !ok {
		return call{}, badRequest("unsupported parse_mode")
	}
	c := call{
		msg:  store.OutMessage{ChatID: chat.ID, ThreadID: thread, Silent: p.bool("disable_notification")},
		call: store.RelayCall{Method: method, ParseMode: mode},
		chat: chat,
	}
	if markup, ok := p.rawJSON("reply_markup", '{'); !ok {
		return call{}, badRequest("can't parse reply keyboard markup JSON object")
	} else if markup != nil {
		c.msg.ReplyMarkup = markup
	}
	if apiErr := c.options(p); apiErr != nil {
		return call{}, apiErr
	}
	if method == store.RelaySendMessage {
		return c, c.text(p.str("text"), maxTextLen, "message text is empty", "message is too long")
	}
	if apiErr := c.text(p.str("caption"), maxCaptionLen, "", "message caption is too long"); apiErr != nil {
		return call{}, apiErr
	}
	return c, c.file(method, p)
}

// text sets the message text (or caption) after checking it as Telegram does: well formed in
// its parse mode, and within limit once parsed. empty is the refusal of a text that is empty,
// "" where none is needed (a caption).
func (c *call) text(text string, limit int, empty, tooLong string) *apiError {
	if strings.TrimSpace(text) == "" {
		if empty != "" {
			return badRequest(empty)
		}
		return nil
	}
	plain, err := plainText(text, c.call.ParseMode)
	if err != nil {
		return badRequest(err.Error())
	}
	if empty != "" && strings.TrimSpace(plain) == "" {
		return badRequest(empty)
	}
	if utf16Len(plain) > limit {
		return badRequest(tooLong)
	}
	c.msg.Text, c.plain = text, plain
	return nil
}

// options collects the parameters passed on, as a JSON object, checking each is what
// Telegram wants there.
func (c *call) options(p params) *apiError {
	opts := map[string]json.RawMessage{}
	for name, kind := range passOn[c.call.Method] {
		if !p.has(name) {
			continue
		}
		if kind == 'b' {
			opts[name] = json.RawMessage(strconv.FormatBool(p.bool(name)))
			continue
		}
		raw, ok := p.rawJSON(name, kind)
		if !ok {
			return badRequest("can't parse " + name + " JSON object")
		}
		if raw != nil {
			opts[name] = raw
		}
	}
	if _, set := opts["link_preview_options"]; !set && c.call.Method == store.RelaySendMessage && p.bool("disable_web_page_preview") {
		opts["link_preview_options"] = json.RawMessage(`{"is_disabled":true}`)
	}
	if len(opts) == 0 {
		return nil
	}
	raw, err := json.Marshal(opts)
	if err != nil {
		return badRequest("can't encode the parameters")
	}
	c.call.Options = raw
	return nil
}

// file reads the photo or document: an uploaded file (the part of that name, or the one
// "attach://<name>" names), or a URL or file_id that Telegram fetches itself.
func (c *call) file(method string, p params) *apiError {
	field, limit := "document", maxFileBytes
	if method == store.RelaySendPhoto {
		field, limit = "photo", maxPhotoBytes
	}
	up, uploaded := p.files[field]
	ref := strings.TrimSpace(p.str(field))
	if name, ok := strings.CutPrefix(ref, "attach://"); ok {
		up, uploaded = p.files[name]
		ref = ""
	}
	switch {
	case uploaded:
		if len(up.data) == 0 {
			return badRequest("file must be non-empty")
		}
		if len(up.data) > limit {
			if method == store.RelaySendPhoto {
				return badRequest("PHOTO_SAVE_FILE_INVALID")
			}
			return errEntityTooLarge
		}
		c.call.File = store.RelayFile{Name: up.name, ContentType: up.contentType, Data: up.data}
	case ref != "":
		c.call.File = store.RelayFile{Ref: ref}
	default:
		return badRequest("there is no " + field + " in the request")
	}
	return nil
}

// result is the Message the call answers with (see message).
func (c call) result(id int64, now time.Time) message {
	m := message{
		MessageID: id, MessageThreadID: c.msg.ThreadID, Date: now.Unix(),
		Chat: messageChat{ID: c.chat.ID, Type: c.chat.Type, Title: c.chat.Title, Username: c.chat.Username},
	}
	if m.Chat.Type == "" {
		m.Chat.Type = chatType(c.chat.ID)
	}
	if c.call.Method == store.RelaySendMessage {
		m.Text = c.plain
	} else {
		m.Caption = c.plain
	}
	return m
}

// chatType guesses a chat's type from its id when herald has not seen the chat: users have
// positive ids, supergroups and channels -100…, basic groups other negative ones.
func chatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1000000000000:
		return "supergroup"
	default:
		return "group"
	}
}

// parseInt reads an integer parameter, as a number or JSON's spelling of one (42, "42",
// 42.0); an absent one is 0.
func parseInt(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, true
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}
