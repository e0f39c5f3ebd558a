package telegramtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// ControlHandler serves the control API a person uses to play the users' side by
// hand, from curl or a script. Handler includes it under /fake/:
//
//	POST /fake/send     {"chat_id":-100123,"chat_type":"supergroup","user_id":42,"username":"ann","text":"/status","thread_id":0}
//	POST /fake/send     {"chat_id":-100123,"sender_chat":{"id":-100123},"text":"/getid"}  (an anonymous admin)
//	POST /fake/send     {"chat_id":-100123,"sender_chat":{"id":-100777,"type":"channel","title":"News"},"is_automatic_forward":true,"text":"/force"}
//	POST /fake/press    {"chat_id":42,"user_id":42,"message_id":3,"data":"force:abc"}
//	GET  /fake/messages?chat_id=42
//
// chat_id defaults to user_id (a private chat); chat_type defaults from the id's sign.
// sender_chat and is_automatic_forward are the Bot API's Message fields: with sender_chat
// the message is sent on behalf of that chat (the group itself: an anonymous admin; a
// channel: posted as the channel, or forwarded from it with is_automatic_forward), user_id
// may be left out, and from is Telegram's placeholder user (see SendPost).
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fake/send", s.controlSend)
	mux.HandleFunc("POST /fake/press", s.controlPress)
	mux.HandleFunc("GET /fake/messages", s.controlMessages)
	return mux
}

type controlRequest struct {
	ChatID    int64  `json:"chat_id"`
	ChatType  string `json:"chat_type"`
	ChatTitle string `json:"chat_title"`
	UserID    int64  `json:"user_id"`
	Username  string `json:"username"`
	FirstName string `json:"first_name"`
	Text      string `json:"text"`
	ThreadID  int64  `json:"thread_id"`
	MessageID int    `json:"message_id"`
	Data      string `json:"data"`

	SenderChat         *controlChat `json:"sender_chat"`
	IsAutomaticForward bool         `json:"is_automatic_forward"`
}

// controlChat is a chat named in a control request, as the Bot API's Chat.
type controlChat struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
}

func decodeControl(w http.ResponseWriter, r *http.Request) (controlRequest, Chat, User, bool) {
	var req controlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("bad JSON: %v", err), http.StatusBadRequest)
		return req, Chat{}, User{}, false
	}
	if req.SenderChat != nil && req.SenderChat.ID == 0 {
		http.Error(w, "sender_chat.id is required", http.StatusBadRequest)
		return req, Chat{}, User{}, false
	}
	if req.IsAutomaticForward && (req.SenderChat == nil || req.SenderChat.ID == req.ChatID) {
		http.Error(w, "is_automatic_forward needs the channel as sender_chat", http.StatusBadRequest)
		return req, Chat{}, User{}, false
	}
	if req.UserID == 0 && req.SenderChat == nil {
		http.Error(w, "user_id is required (or sender_chat)", http.StatusBadRequest)
		return req, Chat{}, User{}, false
	}
	if req.ChatID == 0 {
		req.ChatID = req.UserID
	}
	if req.ChatID == 0 {
		http.Error(w, "chat_id is required", http.StatusBadRequest)
		return req, Chat{}, User{}, false
	}
	u := User{ID: req.UserID, Username: req.Username, FirstName: req.FirstName}
	if u.FirstName == "" {
		u.FirstName = req.Username
	}
	c := Chat{ID: req.ChatID, Type: req.ChatType, Title: req.ChatTitle, IsForum: req.ThreadID != 0}
	if c.Type == "" {
		c.Type = inferChatType(c.ID)
	}
	return req, c, u, true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) controlSend(w http.ResponseWriter, r *http.Request) {
	req, c, u, ok := decodeControl(w, r)
	if !ok {
		return
	}
	if req.Text == "" {
		http.Error(w, "text is required", http.StatusBadRequest)
		return
	}
	var id int64
	if sc := req.SenderChat; sc != nil {
		id = s.SendPost(Post{Chat: c, ThreadID: req.ThreadID, From: u, Text: req.Text,
			SenderChat: &Chat{ID: sc.ID, Type: sc.Type, Title: sc.Title}, AutomaticForward: req.IsAutomaticForward})
	} else {
		id = s.SendTextInTopic(c, req.ThreadID, u, req.Text)
	}
	writeJSON(w, map[string]int64{"update_id": id})
}

func (s *Server) controlPress(w http.ResponseWriter, r *http.Request) {
	req, c, u, ok := decodeControl(w, r)
	if !ok {
		return
	}
	if req.UserID == 0 {
		http.Error(w, "user_id is required: a person presses buttons", http.StatusBadRequest)
		return
	}
	if req.MessageID == 0 || req.Data == "" {
		http.Error(w, "message_id and data are required", http.StatusBadRequest)
		return
	}
	id, q := s.PressButton(c, u, req.MessageID, req.Data)
	writeJSON(w, map[string]any{"update_id": id, "query_id": q})
}

type controlMessage struct {
	ChatID    int64      `json:"chat_id"`
	ThreadID  int64      `json:"thread_id,omitempty"`
	MessageID int        `json:"message_id"`
	Text      string     `json:"text"`
	ParseMode string     `json:"parse_mode,omitempty"`
	Keyboard  [][]Button `json:"keyboard,omitempty"`
	Silent    bool       `json:"silent,omitempty"`
	NoPreview bool       `json:"no_preview,omitempty"`
	Edits     int        `json:"edits,omitempty"`
	Deleted   bool       `json:"deleted,omitempty"`
	SentAt    string     `json:"sent_at"`
}

func (s *Server) controlMessages(w http.ResponseWriter, r *http.Request) {
	chatID, err := strconv.ParseInt(r.URL.Query().Get("chat_id"), 10, 64)
	if err != nil {
		http.Error(w, "chat_id must be an integer", http.StatusBadRequest)
		return
	}
	msgs := s.Messages(chatID)
	out := make([]controlMessage, len(msgs))
	for i, m := range msgs {
		out[i] = controlMessage{ChatID: m.ChatID, ThreadID: m.ThreadID, MessageID: m.MessageID,
			Text: m.Text, ParseMode: m.ParseMode, Keyboard: m.Keyboard, Silent: m.Silent,
			NoPreview: m.NoPreview, Edits: m.Edits, Deleted: m.Deleted, SentAt: m.SentAt.Format("2006-01-02T15:04:05.000Z07:00")}
	}
	writeJSON(w, out)
}
