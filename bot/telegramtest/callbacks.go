package telegramtest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CallbackAnswer is one answerCallbackQuery call that named a pending query.
type CallbackAnswer struct {
	QueryID   string
	ChatID    int64 // where the pressed button was
	MessageID int
	UserID    int64
	Data      string // the pressed button's callback_data
	Text      string
	ShowAlert bool
	URL       string
	At        time.Time
}

func (s *Server) answerCallbackQuery(_ *http.Request, p params) (any, *apiError) {
	id := p.str("callback_query_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queries[id]
	if !ok {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	if len(p.str("text")) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	delete(s.queries, id)
	s.answers = append(s.answers, CallbackAnswer{
		QueryID: id, ChatID: q.chatID, MessageID: q.messageID, UserID: q.userID, Data: q.data,
		Text: p.str("text"), ShowAlert: p.bool("show_alert"), URL: p.str("url"), At: s.now(),
	})
	s.notifyLocked()
	return true, nil
}

// CallbackAnswers returns the answerCallbackQuery calls accepted so far, in order.
func (s *Server) CallbackAnswers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

// BotCommand is an entry of the bot's command menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

var commandRE = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// commandsKey identifies a command list by scope and language, as Telegram keeps one
// list per pair.
func commandsKey(p params) (string, *apiError) {
	var scope struct {
		Type   string          `json:"type"`
		ChatID json.RawMessage `json:"chat_id"`
		UserID json.RawMessage `json:"user_id"`
	}
	if err := p.json("scope", &scope); err != nil {
		return "", badRequest("can't parse BotCommandScope JSON object")
	}
	if scope.Type == "" {
		scope.Type = "default"
	}
	key := scope.Type
	for _, id := range []json.RawMessage{scope.ChatID, scope.UserID} {
		if len(id) > 0 {
			key += "/" + strings.Trim(string(id), `"`)
		}
	}
	if lang := p.str("language_code"); lang != "" {
		key += "@" + lang
	}
	return key, nil
}

func (s *Server) setMyCommands(_ *http.Request, p params) (any, *apiError) {
	var cmds []BotCommand
	if err := p.json("commands", &cmds); err != nil || !p.has("commands") {
		return nil, badRequest("can't parse commands JSON object")
	}
	if len(cmds) > 100 {
		return nil, badRequest("BOT_COMMANDS_TOO_MUCH")
	}
	for _, c := range cmds {
		if !commandRE.MatchString(c.Command) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := len([]rune(c.Description)); n == 0 || n > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	key, apiErr := commandsKey(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands[key] = cmds
	return true, nil
}

func (s *Server) getMyCommands(_ *http.Request, p params) (any, *apiError) {
	key, apiErr := commandsKey(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cmds := s.commands[key]
	if cmds == nil {
		cmds = []BotCommand{}
	}
	return cmds, nil
}

func (s *Server) deleteMyCommands(_ *http.Request, p params) (any, *apiError) {
	key, apiErr := commandsKey(p)
	if apiErr != nil {
		return nil, apiErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.commands, key)
	return true, nil
}

// Commands returns the default-scope, no-language command list set by setMyCommands.
func (s *Server) Commands() []BotCommand {
	return s.CommandsFor("default")
}

// CommandsFor returns a command list by scope key: "default", "all_group_chats",
// "chat/<id>", with "@<lang>" appended for a language_code.
func (s *Server) CommandsFor(key string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands[key])
}
