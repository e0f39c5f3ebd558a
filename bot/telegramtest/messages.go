package telegramtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxTextLen is Telegram's limit on a message text after entity parsing, in UTF-16
// code units.
const maxTextLen = 4096

// Message is a message the bot sent, as it stands now.
type Message struct {
	ChatID    int64
	ThreadID  int64 // message_thread_id, 0 if none
	MessageID int
	Text      string // as the bot sent it, markup included
	ParseMode string
	Keyboard  [][]Button // inline keyboard, nil if none
	Silent    bool       // disable_notification
	NoPreview bool       // link previews disabled
	Edits     int        // successful editMessageText/editMessageReplyMarkup calls
	Deleted   bool
	SentAt    time.Time
	Media     *Media // sendPhoto, sendDocument (media.go); Text is then the caption
	ReplyTo   int    // the message this one replies to (replies.go), 0 if none
}

// Button is an inline keyboard button.
type Button struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

// sentMessage is a bot message with what the API echoes back about it.
type sentMessage struct {
	Message
	plain    string
	entities []Entity
	editedAt time.Time
}

// formattedText is a validated text with its parse result.
type formattedText struct {
	text, parseMode, plain string
	entities               []Entity
}

// parseText validates a message text the way sendMessage and editMessageText do.
func parseText(p params) (formattedText, *apiError) {
	ft := formattedText{text: p.str("text"), parseMode: p.str("parse_mode")}
	if strings.TrimSpace(ft.text) == "" {
		return ft, badRequest("message text is empty")
	}
	switch strings.ToLower(ft.parseMode) {
	case "":
		ft.plain = ft.text
	case "html":
		plain, ents, err := ParseHTML(ft.text)
		if err != nil {
			return ft, badRequest("%v", err)
		}
		ft.plain, ft.entities = plain, ents
	case "markdown", "markdownv2":
		// Not parsed: herald uses HTML. The text is kept verbatim.
		ft.plain = ft.text
	default:
		return ft, badRequest("unsupported parse_mode")
	}
	if strings.TrimSpace(ft.plain) == "" {
		return ft, badRequest("message text is empty")
	}
	if utf16Len(ft.plain) > maxTextLen {
		return ft, badRequest("message is too long")
	}
	return ft, nil
}

type markup struct {
	InlineKeyboard [][]struct {
		Text         string  `json:"text"`
		CallbackData *string `json:"callback_data"`
		URL          *string `json:"url"`
	} `json:"inline_keyboard"`
}

// parseKeyboard reads reply_markup. Only inline keyboards are kept; other markups
// (reply keyboards, force_reply) are accepted and ignored.
func parseKeyboard(p params) ([][]Button, *apiError) {
	if !p.has("reply_markup") {
		return nil, nil
	}
	var m markup
	if err := p.json("reply_markup", &m); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	if m.InlineKeyboard == nil {
		return nil, nil
	}
	kb := make([][]Button, 0, len(m.InlineKeyboard))
	for _, row := range m.InlineKeyboard {
		out := make([]Button, 0, len(row))
		for _, b := range row {
			if b.Text == "" {
				return nil, badRequest("BUTTON_TEXT_INVALID")
			}
			btn := Button{Text: b.Text}
			switch {
			case b.CallbackData != nil:
				if n := len(*b.CallbackData); n == 0 || n > 64 {
					return nil, badRequest("BUTTON_DATA_INVALID")
				}
				btn.CallbackData = *b.CallbackData
			case b.URL != nil:
				u, err := url.Parse(*b.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "tg") || (u.Scheme != "tg" && u.Host == "") {
					return nil, badRequest("inline keyboard button URL '%s' is invalid: Wrong HTTP URL", *b.URL)
				}
				btn.URL = *b.URL
			default:
				return nil, badRequest("text buttons are unallowed in the inline keyboard")
			}
			out = append(out, btn)
		}
		kb = append(kb, out)
	}
	return kb, nil
}

// noPreview reads both spellings of "don't show a link preview".
func noPreview(p params) bool {
	if p.bool("disable_web_page_preview") {
		return true
	}
	var lpo struct {
		IsDisabled bool `json:"is_disabled"`
	}
	return p.json("link_preview_options", &lpo) == nil && lpo.IsDisabled
}

func (s *Server) sendMessage(r *http.Request, p params) (any, *apiError) {
	chatID, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, apiErr
	}
	threadID, ok := p.int64("message_thread_id")
	if !ok {
		return nil, badRequest("invalid message_thread_id")
	}
	ft, apiErr := parseText(p)
	if apiErr != nil {
		return nil, apiErr
	}
	kb, apiErr := parseKeyboard(p)
	if apiErr != nil {
		return nil, apiErr
	}
	replyID, replyAnyway, apiErr := replyTarget(p)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := s.waitHold(r.Context()); err != nil {
		return nil, &apiError{Code: http.StatusBadGateway, Description: "Bad Gateway"}
	}

	s.mu.Lock()
	cs, apiErr := s.writableChatLocked(chatID)
	if apiErr != nil {
		s.mu.Unlock()
		return nil, apiErr
	}
	replyTo, apiErr := resolveReplyLocked(cs, threadID, replyID, replyAnyway)
	if apiErr != nil {
		s.mu.Unlock()
		return nil, apiErr
	}
	now := s.now()
	if s.limiter != nil {
		if retry, ok := s.limiter.admit(chatID, isGroup(cs.chat), now); !ok {
			s.stats.RateLimited++
			s.mu.Unlock()
			return nil, tooManyRequests(retry)
		}
	}
	m := &sentMessage{
		Message: Message{
			ChatID: chatID, ThreadID: threadID, MessageID: cs.nextMsgID,
			Text: ft.text, ParseMode: ft.parseMode, Keyboard: kb,
			Silent: p.bool("disable_notification"), NoPreview: noPreview(p), SentAt: now, ReplyTo: replyTo,
		},
		plain: ft.plain, entities: ft.entities,
	}
	cs.nextMsgID++
	cs.msgs = append(cs.msgs, m)
	cs.byID[m.MessageID] = m
	s.allSent = append(s.allSent, m.Message)
	s.stats.Sent++
	s.notifyLocked()
	out := s.apiMessageLocked(cs, m)
	s.mu.Unlock()
	s.emit(m.Message)
	return out, nil
}

// emit hands a message to Options.OnMessage.
func (s *Server) emit(m Message) {
	if s.opts.OnMessage != nil {
		s.opts.OnMessage(m)
	}
}

// editTargetLocked finds the bot message an edit names.
func (s *Server) editTargetLocked(p params, notFound string) (*chatState, *sentMessage, *apiError) {
	if p.has("inline_message_id") {
		return nil, nil, badRequest("MESSAGE_ID_INVALID")
	}
	chatID, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	msgID, ok := p.int64("message_id")
	if !ok || msgID <= 0 {
		return nil, nil, badRequest("message identifier is not specified")
	}
	cs, apiErr := s.writableChatLocked(chatID)
	if apiErr != nil {
		return nil, nil, apiErr
	}
	m, ok := cs.byID[int(msgID)]
	if !ok || m.Deleted {
		if ok || int(msgID) >= cs.nextMsgID {
			return nil, nil, badRequest("%s", notFound)
		}
		return nil, nil, badRequest("message can't be edited")
	}
	return cs, m, nil
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

func (s *Server) editMessageText(_ *http.Request, p params) (any, *apiError) {
	ft, apiErr := parseText(p)
	if apiErr != nil {
		return nil, apiErr
	}
	kb, apiErr := parseKeyboard(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	cs, m, apiErr := s.editTargetLocked(p, "message to edit not found")
	if apiErr != nil {
		s.mu.Unlock()
		return nil, apiErr
	}
	// Like Telegram, an edit without reply_markup drops the inline keyboard.
	if m.plain == ft.plain && slices.Equal(m.entities, ft.entities) && keyboardsEqual(m.Keyboard, kb) {
		s.mu.Unlock()
		return nil, badRequest(notModified)
	}
	m.Text, m.ParseMode, m.plain, m.entities, m.Keyboard = ft.text, ft.parseMode, ft.plain, ft.entities, kb
	if p.has("link_preview_options") || p.has("disable_web_page_preview") {
		m.NoPreview = noPreview(p)
	}
	return s.editedLocked(cs, m), nil
}

func (s *Server) editMessageReplyMarkup(_ *http.Request, p params) (any, *apiError) {
	kb, apiErr := parseKeyboard(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	cs, m, apiErr := s.editTargetLocked(p, "message to edit not found")
	if apiErr != nil {
		s.mu.Unlock()
		return nil, apiErr
	}
	if keyboardsEqual(m.Keyboard, kb) {
		s.mu.Unlock()
		return nil, badRequest(notModified)
	}
	m.Keyboard = kb
	return s.editedLocked(cs, m), nil
}

// editedLocked counts an edit of m, wakes waiters and sends the message out; it unlocks s.mu.
func (s *Server) editedLocked(cs *chatState, m *sentMessage) any {
	m.Edits++
	m.editedAt = s.now()
	s.notifyLocked()
	out := s.apiMessageLocked(cs, m)
	snapshot := m.Message
	s.mu.Unlock()
	s.emit(snapshot)
	return out
}

func keyboardsEqual(a, b [][]Button) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func (s *Server) deleteMessage(_ *http.Request, p params) (any, *apiError) {
	chatID, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, apiErr
	}
	msgID, ok := p.int64("message_id")
	if !ok || msgID <= 0 {
		return nil, badRequest("message identifier is not specified")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, apiErr := s.writableChatLocked(chatID)
	if apiErr != nil {
		return nil, apiErr
	}
	m, ok := cs.byID[int(msgID)]
	switch {
	case ok && !m.Deleted:
		m.Deleted = true
		s.notifyLocked()
	case ok || int(msgID) >= cs.nextMsgID:
		return nil, badRequest("message to delete not found")
	}
	// A user's message: the bot may delete it; nothing of it is kept anyway.
	return true, nil
}

type apiMessage struct {
	MessageID       int             `json:"message_id"`
	MessageThreadID int64           `json:"message_thread_id,omitempty"`
	From            apiUser         `json:"from"`
	Chat            apiChat         `json:"chat"`
	Date            int64           `json:"date"`
	EditDate        int64           `json:"edit_date,omitempty"`
	IsTopicMessage  bool            `json:"is_topic_message,omitempty"`
	Text            string          `json:"text,omitempty"`
	Entities        []Entity        `json:"entities,omitempty"`
	ReplyMarkup     *apiMarkup      `json:"reply_markup,omitempty"`
	LinkPreview     *apiLinkPreview `json:"link_preview_options,omitempty"`
}

type apiMarkup struct {
	InlineKeyboard [][]Button `json:"inline_keyboard"`
}

type apiLinkPreview struct {
	IsDisabled bool `json:"is_disabled"`
}

func (s *Server) apiMessageLocked(cs *chatState, m *sentMessage) apiMessage {
	am := apiMessage{
		MessageID: m.MessageID, MessageThreadID: m.ThreadID, From: toAPIUser(s.bot, true),
		Chat: cs.api(), Date: m.SentAt.Unix(), Text: m.plain, Entities: m.entities,
		IsTopicMessage: m.ThreadID != 0 && cs.chat.IsForum,
	}
	if !m.editedAt.IsZero() {
		am.EditDate = m.editedAt.Unix()
	}
	if m.Keyboard != nil {
		am.ReplyMarkup = &apiMarkup{InlineKeyboard: m.Keyboard}
	}
	if m.NoPreview {
		am.LinkPreview = &apiLinkPreview{IsDisabled: true}
	}
	return am
}

// Messages returns the bot's messages in chatID as they stand now (edits applied,
// deleted ones flagged), in the order they were sent.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(chatID)
}

func (s *Server) messagesLocked(chatID int64) []Message {
	cs, ok := s.chats[chatID]
	if !ok {
		return nil
	}
	out := make([]Message, len(cs.msgs))
	for i, m := range cs.msgs {
		out[i] = m.Message
	}
	return out
}

// WaitMessages waits until the bot has sent at least n messages to chatID and
// returns them as Messages would. It fails when ctx ends first, saying how many
// arrived.
func (s *Server) WaitMessages(ctx context.Context, chatID int64, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		have := 0
		if cs, ok := s.chats[chatID]; ok {
			have = len(cs.msgs)
		}
		if have >= n {
			out := s.messagesLocked(chatID)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("telegramtest: waiting for %d messages in chat %d, have %d: %w", n, chatID, have, ctx.Err())
		case <-s.closed:
			return nil, errClosed
		}
	}
}

// AllSent returns every message sendMessage accepted, in all chats, in the order
// accepted, as they were when sent (later edits are not applied).
func (s *Server) AllSent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.allSent)
}
