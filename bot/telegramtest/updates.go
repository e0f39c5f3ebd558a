package telegramtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// queuedUpdate is an update waiting to be acknowledged, already in its wire form.
type queuedUpdate struct {
	id   int64
	kind string // "message" or "callback_query"
	raw  json.RawMessage
}

// enqueueLocked assigns the next update_id and queues the update unless the bot's
// allowed_updates exclude its kind (Telegram then never creates it).
func (s *Server) enqueueLocked(kind string, body any) int64 {
	id := s.nextUpdateID
	s.nextUpdateID++
	if s.allowed != nil && !s.allowed[kind] {
		return id
	}
	payload, err := json.Marshal(body)
	if err != nil {
		panic("telegramtest: encoding update: " + err.Error()) // our own types always encode
	}
	raw := json.RawMessage(`{"update_id":` + strconv.FormatInt(id, 10) + `,"` + kind + `":` + string(payload) + `}`)
	s.queue = append(s.queue, queuedUpdate{id: id, kind: kind, raw: raw})
	s.notifyLocked()
	return id
}

// SendText queues a message from user from in chat, as if they typed text, and
// returns its update_id. A leading /command gets its bot_command entity.
func (s *Server) SendText(chat Chat, from User, text string) int64 {
	return s.SendTextInTopic(chat, 0, from, text)
}

// SendTextInTopic is SendText in forum topic threadID (0: no topic).
func (s *Server) SendTextInTopic(chat Chat, threadID int64, from User, text string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chatLocked(chat)
	if cs.chat.Type == "private" {
		cs.user = from
	}
	s.users[from.ID] = from
	msgID := cs.nextMsgID
	cs.nextMsgID++
	m := apiMessage{
		MessageID: msgID, MessageThreadID: threadID, From: toAPIUser(from, false),
		Chat: cs.api(), Date: s.now().Unix(), Text: text, Entities: commandEntity(text),
		IsTopicMessage: threadID != 0 && cs.chat.IsForum,
	}
	return s.enqueueLocked("message", m)
}

// Telegram's placeholder senders: the "from" of a message written anonymously by a group
// admin, posted as a channel, or forwarded from a channel into its discussion group
// (https://core.telegram.org/bots/api#message, fields from and sender_chat).
var (
	GroupAnonymousBot = User{ID: 1087968824, FirstName: "Group", Username: "GroupAnonymousBot"}
	ChannelBot        = User{ID: 136817688, FirstName: "Channel", Username: "Channel_Bot"}
	TelegramService   = User{ID: 777000, FirstName: "Telegram"}
)

// Post is a message sent some other way than as a plain user.
type Post struct {
	Chat     Chat
	ThreadID int64
	From     User // the person writing; replaced by Telegram's placeholder when SenderChat is set
	Text     string
	// SenderChat is the chat the message is sent on behalf of: the group itself (an
	// anonymous admin) or a channel (someone posting as the channel, or with
	// AutomaticForward the channel whose post this is).
	SenderChat *Chat
	// AutomaticForward marks a channel post Telegram forwarded into the channel's linked
	// discussion group by itself.
	AutomaticForward bool
}

// apiPost is a message with the fields only such posts carry.
type apiPost struct {
	apiMessage
	SenderChat         *apiChat          `json:"sender_chat,omitempty"`
	IsAutomaticForward bool              `json:"is_automatic_forward,omitempty"`
	ForwardOrigin      *apiForwardOrigin `json:"forward_origin,omitempty"`
}

// apiForwardOrigin is MessageOriginChannel, the origin of an automatic forward.
type apiForwardOrigin struct {
	Type      string  `json:"type"`
	Date      int64   `json:"date"`
	Chat      apiChat `json:"chat"`
	MessageID int     `json:"message_id"`
}

// SendPost queues p as a message update and returns its update_id. As in Telegram, a
// message with a sender chat has a placeholder in from: GroupAnonymousBot when the sender
// chat is the group, TelegramService for an automatic forward, ChannelBot otherwise.
func (s *Server) SendPost(p Post) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chatLocked(p.Chat)
	from := p.From
	var sender *apiChat
	if p.SenderChat != nil {
		sc := *p.SenderChat
		switch {
		case sc.ID == p.Chat.ID:
			from = GroupAnonymousBot
		case p.AutomaticForward:
			from = TelegramService
		default:
			from = ChannelBot
		}
		api := cs.api()
		if sc.ID != p.Chat.ID {
			if sc.Type == "" {
				sc.Type = "channel"
			}
			api = s.chatLocked(sc).api()
		}
		sender = &api
	}
	if cs.chat.Type == "private" {
		cs.user = from
	}
	s.users[from.ID] = from
	msgID := cs.nextMsgID
	cs.nextMsgID++
	m := apiPost{apiMessage: apiMessage{
		MessageID: msgID, MessageThreadID: p.ThreadID, From: toAPIUser(from, from.ID != TelegramService.ID && p.SenderChat != nil),
		Chat: cs.api(), Date: s.now().Unix(), Text: p.Text, Entities: commandEntity(p.Text),
		IsTopicMessage: p.ThreadID != 0 && cs.chat.IsForum,
	}, SenderChat: sender}
	if p.AutomaticForward && sender != nil {
		m.IsAutomaticForward = true
		m.ForwardOrigin = &apiForwardOrigin{Type: "channel", Date: m.Date, Chat: *sender, MessageID: msgID}
	}
	return s.enqueueLocked("message", m)
}

// SendRawUpdate queues an update of kind ("message", "callback_query", ...) whose body is
// raw JSON as given, and returns its update_id: for what Telegram may send that the fake's
// own types never produce, such as a field whose type changed.
func (s *Server) SendRawUpdate(kind string, body json.RawMessage) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(kind, body)
}

// commandEntity marks every "/command" or "/command@bot" that starts the text or follows a
// space, like Telegram does: a command after other text (even emoji or Cyrillic) is marked
// too, with offsets in UTF-16 code units.
func commandEntity(text string) []Entity {
	var ents []Entity
	for i := 0; i < len(text); i++ {
		if text[i] != '/' || (i > 0 && !strings.ContainsRune(" \n\t", rune(text[i-1]))) {
			continue
		}
		end := i + 1
		for end < len(text) && (isCommandByte(text[end]) || text[end] == '@') {
			end++
		}
		if end-i < 2 {
			continue
		}
		ents = append(ents, Entity{Type: "bot_command", Offset: utf16Len(text[:i]), Length: utf16Len(text[i:end])})
		i = end
	}
	return ents
}

func isCommandByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

type pendingQuery struct {
	chatID    int64
	messageID int
	userID    int64
	data      string
}

// PressButton queues a callback_query as if from pressed the inline button with
// callbackData under the bot's message messageID in chat. It returns the update_id
// and the callback query id the bot must answer with answerCallbackQuery.
func (s *Server) PressButton(chat Chat, from User, messageID int, callbackData string) (updateID int64, queryID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chatLocked(chat)
	if cs.chat.Type == "private" {
		cs.user = from
	}
	s.users[from.ID] = from
	s.nextQueryID++
	queryID = strconv.FormatInt(8000000000000000000+s.nextQueryID, 10)
	s.queries[queryID] = pendingQuery{chatID: chat.ID, messageID: messageID, userID: from.ID, data: callbackData}
	var msg any
	if m, ok := cs.byID[messageID]; ok && !m.Deleted {
		msg = s.apiMessageLocked(cs, m)
	} else {
		// Telegram's InaccessibleMessage: the message is gone or was never the bot's.
		msg = struct {
			Chat      apiChat `json:"chat"`
			MessageID int     `json:"message_id"`
			Date      int     `json:"date"`
		}{Chat: cs.api(), MessageID: messageID}
	}
	cq := struct {
		ID           string  `json:"id"`
		From         apiUser `json:"from"`
		Message      any     `json:"message"`
		ChatInstance string  `json:"chat_instance"`
		Data         string  `json:"data"`
	}{ID: queryID, From: toAPIUser(from, false), Message: msg,
		ChatInstance: strconv.FormatInt(chat.ID*31+7, 10), Data: callbackData}
	return s.enqueueLocked("callback_query", cq), queryID
}

// Pending is how many updates the bot has not acknowledged yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// FetchedUpdates is the highest update_id handed to the bot (by getUpdates or a
// successful webhook delivery), 0 if none.
func (s *Server) FetchedUpdates() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetched
}

// ackLocked forgets updates below offset; a negative offset keeps only the last
// -offset updates, as Telegram documents.
func (s *Server) ackLocked(offset int64) {
	switch {
	case offset > 0:
		i := 0
		for i < len(s.queue) && s.queue[i].id < offset {
			i++
		}
		if i > 0 {
			s.queue = s.queue[i:]
			s.notifyLocked()
		}
	case offset < 0:
		if keep := int(-offset); keep < len(s.queue) {
			s.queue = s.queue[len(s.queue)-keep:]
			s.notifyLocked()
		}
	}
}

// pollStats counts how getUpdates calls met: Telegram serves one long poll per bot at a
// time, so a second one is a sign that two programs poll with one token (or that one asked
// again before its previous poll ended), and it costs the older one a 409.
type pollStats struct {
	open      int // getUpdates calls being answered now
	overlaps  int // calls that arrived while another was open
	conflicts int // 409 Conflict answers to getUpdates
}

// PollOverlaps is how many getUpdates calls arrived while another was still open: 0 means
// the bot never had two long polls at once.
func (s *Server) PollOverlaps() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls.overlaps
}

// PollConflicts is how many getUpdates calls were answered 409 Conflict: ended by a newer
// poll, or refused while a webhook is set.
func (s *Server) PollConflicts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls.conflicts
}

// conflictLocked counts a 409 and makes it.
func (s *Server) conflictLocked(description string) *apiError {
	s.polls.conflicts++
	return &apiError{Code: http.StatusConflict, Description: description}
}

const (
	conflictWebhook = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	conflictPoller  = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

func (s *Server) getUpdates(r *http.Request, p params) (any, *apiError) {
	offset, ok1 := p.int64("offset")
	limit, ok2 := p.int64("limit")
	timeout, ok3 := p.int64("timeout")
	if !ok1 || !ok2 || !ok3 {
		return nil, badRequest("invalid offset, limit or timeout")
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	var allowed []string
	if err := p.json("allowed_updates", &allowed); err != nil {
		return nil, badRequest("can't parse allowed updates")
	}
	deadline := time.Now().Add(time.Duration(max(timeout, 0)) * time.Second)

	s.mu.Lock()
	if s.polls.open > 0 {
		s.polls.overlaps++
	}
	s.polls.open++
	defer func() {
		s.mu.Lock()
		s.polls.open--
		s.mu.Unlock()
	}()
	if s.hook.url != "" {
		err := s.conflictLocked(conflictWebhook)
		s.mu.Unlock()
		return nil, err
	}
	if p.has("allowed_updates") {
		s.setAllowedLocked(allowed)
	}
	s.ackLocked(offset)
	s.pollGen++
	gen := s.pollGen
	s.notifyLocked() // ends an older poll with 409, like Telegram
	var timer *time.Timer
	for {
		if s.pollGen != gen {
			err := s.conflictLocked(conflictPoller)
			s.mu.Unlock()
			return nil, err
		}
		if s.hook.url != "" {
			err := s.conflictLocked(conflictWebhook)
			s.mu.Unlock()
			return nil, err
		}
		if len(s.queue) > 0 || !time.Now().Before(deadline) {
			break
		}
		changed := s.changed
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(time.Until(deadline))
			defer timer.Stop()
		}
		select {
		case <-changed:
		case <-timer.C:
		case <-r.Context().Done():
			return nil, &apiError{Code: http.StatusBadGateway, Description: "Bad Gateway"}
		case <-s.closed:
			return nil, &apiError{Code: http.StatusBadGateway, Description: "Bad Gateway"}
		}
		s.mu.Lock()
	}
	n := min(int(limit), len(s.queue))
	out := make([]json.RawMessage, n)
	for i := range n {
		out[i] = s.queue[i].raw
	}
	if n > 0 {
		s.fetched = max(s.fetched, s.queue[n-1].id)
	}
	s.mu.Unlock()
	return out, nil
}

// setAllowedLocked applies allowed_updates: an empty list means every kind again.
// Queued updates of kinds no longer wanted are dropped, as Telegram does.
func (s *Server) setAllowedLocked(kinds []string) {
	if len(kinds) == 0 {
		s.allowed = nil
		return
	}
	s.allowed = map[string]bool{}
	for _, k := range kinds {
		s.allowed[k] = true
	}
	kept := s.queue[:0]
	for _, u := range s.queue {
		if s.allowed[u.kind] {
			kept = append(kept, u)
		}
	}
	s.queue = kept
}
