package telegramtest

import (
	"net/http"
	"strconv"
	"strings"
)

// Chat is a chat the test acts in. Type is "private", "group", "supergroup" or "channel".
// Username, for a public group or channel, is what getChat accepts as "@username".
type Chat struct {
	ID       int64
	Type     string
	Title    string
	IsForum  bool
	Username string
}

// PrivateChat is the one-to-one chat between u and the bot; its id is u's id.
func PrivateChat(u User) Chat { return Chat{ID: u.ID, Type: "private"} }

// chatState is everything the server knows of one chat.
type chatState struct {
	chat       Chat
	user       User // the other party of a private chat
	nextMsgID  int  // shared by users' and the bot's messages, as in Telegram
	msgs       []*sentMessage
	byID       map[int]*sentMessage
	blocked    bool
	migratedTo int64
}

// AddChat makes a chat known to the server (needed with Options.StrictChats before
// the bot may send there), and updates its type and title if already known.
func (s *Server) AddChat(c Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatLocked(c)
}

// chatLocked returns the state of c, creating it or refreshing its description.
func (s *Server) chatLocked(c Chat) *chatState {
	if c.Type == "" {
		c.Type = inferChatType(c.ID)
	}
	cs, ok := s.chats[c.ID]
	if !ok {
		cs = &chatState{chat: c, nextMsgID: 1, byID: map[int]*sentMessage{}}
		s.chats[c.ID] = cs
		return cs
	}
	cs.chat.Type = c.Type
	if c.Title != "" {
		cs.chat.Title = c.Title
	}
	if c.IsForum {
		cs.chat.IsForum = true
	}
	if c.Username != "" {
		cs.chat.Username = c.Username
	}
	return cs
}

// inferChatType guesses what Telegram would say about an id never introduced:
// users are positive, basic groups small negative, supergroups -100xxxxxxxxxx.
func inferChatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id <= -1000000000000:
		return "supergroup"
	default:
		return "group"
	}
}

func isGroup(c Chat) bool { return c.Type == "group" || c.Type == "supergroup" || c.ID < 0 }

// SetMember sets what getChatMember answers for userID in chatID: "creator",
// "administrator", "member", "restricted", "left" or "kicked". Unset users are
// "member".
func (s *Server) SetMember(chatID, userID int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[[2]int64{chatID, userID}] = status
}

// chatIDParam reads chat_id. Telegram also accepts "@channelusername": only getChat
// resolves it here (Chat.Username), elsewhere such ids are simply not found.
func chatIDParam(p params) (int64, *apiError) {
	v := strings.TrimSpace(p.str("chat_id"))
	if v == "" {
		return 0, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("chat not found")
	}
	return id, nil
}

// writableChatLocked resolves the chat a send or edit targets, answering the errors
// Telegram gives for unknown, blocked and migrated chats.
func (s *Server) writableChatLocked(chatID int64) (*chatState, *apiError) {
	cs, ok := s.chats[chatID]
	if !ok {
		if s.opts.StrictChats {
			return nil, badRequest("chat not found")
		}
		cs = s.chatLocked(Chat{ID: chatID})
	}
	if cs.migratedTo != 0 {
		s.stats.Injected++
		return nil, &apiError{Code: http.StatusBadRequest,
			Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateTo: cs.migratedTo}
	}
	if cs.blocked {
		s.stats.Injected++
		return nil, blockedError(cs.chat)
	}
	return cs, nil
}

func blockedError(c Chat) *apiError {
	switch {
	case c.Type == "supergroup":
		return &apiError{Code: http.StatusForbidden, Description: "Forbidden: bot was kicked from the supergroup chat"}
	case isGroup(c):
		return Kicked().apiError()
	default:
		return Blocked().apiError()
	}
}

type apiChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	Username  string `json:"username,omitempty"`
	IsForum   bool   `json:"is_forum,omitempty"`
}

func (cs *chatState) api() apiChat {
	c := apiChat{ID: cs.chat.ID, Type: cs.chat.Type, IsForum: cs.chat.IsForum}
	if c.Type == "private" {
		u := toAPIUser(User{ID: cs.chat.ID, FirstName: cs.user.FirstName, Username: cs.user.Username}, false)
		c.FirstName, c.Username = u.FirstName, u.Username
	} else {
		c.Username = cs.chat.Username
		c.Title = cs.chat.Title
		if c.Title == "" {
			c.Title = "Chat " + strconv.FormatInt(c.ID, 10)
		}
	}
	return c
}

func (s *Server) getChat(_ *http.Request, p params) (any, *apiError) {
	if name, ok := strings.CutPrefix(strings.TrimSpace(p.str("chat_id")), "@"); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cs := range s.chats {
			// Telegram's usernames are case-insensitive; private chats are not found by one.
			if cs.chat.Type != "private" && cs.chat.Username != "" && strings.EqualFold(cs.chat.Username, name) {
				return cs.api(), nil
			}
		}
		return nil, badRequest("chat not found")
	}
	id, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.chats[id]
	if !ok {
		return nil, badRequest("chat not found")
	}
	return cs.api(), nil
}

func (s *Server) getChatMember(_ *http.Request, p params) (any, *apiError) {
	chatID, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, apiErr
	}
	userID, ok := p.int64("user_id")
	if !ok || userID == 0 {
		return nil, badRequest("user not found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chats[chatID]; !ok && s.opts.StrictChats {
		return nil, badRequest("chat not found")
	}
	status, ok := s.members[[2]int64{chatID, userID}]
	if !ok {
		status = "member"
	}
	u, ok := s.users[userID]
	if !ok {
		u = User{ID: userID}
	}
	if userID == s.bot.ID {
		u = s.bot
	}
	return struct {
		Status string  `json:"status"`
		User   apiUser `json:"user"`
	}{Status: status, User: toAPIUser(u, userID == s.bot.ID)}, nil
}

func (s *Server) sendChatAction(_ *http.Request, p params) (any, *apiError) {
	chatID, apiErr := chatIDParam(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, apiErr := s.writableChatLocked(chatID); apiErr != nil {
		return nil, apiErr
	}
	return true, nil
}
