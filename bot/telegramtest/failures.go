package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Failure is an error reply to inject. Code and Description become error_code and
// description; RetryAfter and MigrateToChatID become parameters.
type Failure struct {
	Code            int
	Description     string
	RetryAfter      int
	MigrateToChatID int64
}

func (f Failure) apiError() *apiError {
	return &apiError{Code: f.Code, Description: f.Description, RetryAfter: f.RetryAfter, MigrateTo: f.MigrateToChatID}
}

// TooManyRequests is Telegram's flood-control reply.
func TooManyRequests(retryAfter int) Failure {
	return Failure{Code: http.StatusTooManyRequests,
		Description: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), RetryAfter: retryAfter}
}

// Blocked is the reply for a private chat whose user blocked the bot.
func Blocked() Failure {
	return Failure{Code: http.StatusForbidden, Description: "Forbidden: bot was blocked by the user"}
}

// Kicked is the reply for a group the bot was removed from.
func Kicked() Failure {
	return Failure{Code: http.StatusForbidden, Description: "Forbidden: bot was kicked from the group chat"}
}

// Migrated is the reply for a group that became the supergroup newID.
func Migrated(newID int64) Failure {
	return Failure{Code: http.StatusBadRequest,
		Description: "Bad Request: group chat was upgraded to a supergroup chat", MigrateToChatID: newID}
}

// ServerError is the 502 Telegram's front end answers when the Bot API is down.
func ServerError() Failure {
	return Failure{Code: http.StatusBadGateway, Description: "Bad Gateway"}
}

type queuedFailure struct {
	method string // canonical name
	chatID int64  // 0: any
	f      Failure
}

// FailNext makes the next call of method (in chatID, or any chat if 0) answer f
// instead of doing its work. Failures queue up and are used first in, first out.
func (s *Server) FailNext(method string, chatID int64, f Failure) {
	if m, ok := methods[strings.ToLower(method)]; ok {
		method = m.name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, queuedFailure{method: method, chatID: chatID, f: f})
}

// SetOutage makes every method answer 502 Bad Gateway for d from now. d <= 0 ends
// an outage.
func (s *Server) SetOutage(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outageUntil = s.now().Add(d)
}

// injectedFailure returns the outage or queued failure this request gets, if any.
func (s *Server) injectedFailure(method string, p params) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now().Before(s.outageUntil) {
		s.stats.Injected++
		return ServerError().apiError()
	}
	if len(s.failures) == 0 {
		return nil
	}
	var chatID int64
	if v := strings.TrimSpace(p.str("chat_id")); v != "" {
		chatID, _ = strconv.ParseInt(v, 10, 64)
	}
	for i, q := range s.failures {
		if q.method == method && (q.chatID == 0 || q.chatID == chatID) {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			s.stats.Injected++
			if q.f.Code == http.StatusTooManyRequests {
				s.stats.RateLimited++
			}
			return q.f.apiError()
		}
	}
	return nil
}

// HoldSends makes sendMessage wait, unrecorded, while hold is true. A held request
// ends when sends are released (then it is handled normally), when its client goes
// away (then nothing is recorded), or when the server closes. It lets a test stop
// the bot in the middle of a send.
func (s *Server) HoldSends(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case hold && s.hold == nil:
		s.hold = make(chan struct{})
	case !hold && s.hold != nil:
		close(s.hold)
		s.hold = nil
	}
}

// Held reports how many sendMessage requests are waiting in HoldSends right now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// waitHold blocks while sends are held. It returns ctx's error if the client left.
func (s *Server) waitHold(ctx context.Context) error {
	s.mu.Lock()
	release := s.hold
	if release == nil {
		s.mu.Unlock()
		return nil
	}
	s.held++
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.held--
		s.mu.Unlock()
	}()
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errClosed
	}
}

// BlockChat makes every send or edit in chatID answer 403 from now on: "blocked by
// the user" for a private chat, "kicked from the group chat" for a group.
func (s *Server) BlockChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatLocked(Chat{ID: chatID}).blocked = true
}

// UnblockChat undoes BlockChat: the user unblocked the bot, or the group added it back.
// Sends to chatID work again.
func (s *Server) UnblockChat(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatLocked(Chat{ID: chatID}).blocked = false
}

// MigrateChat turns the group oldID into the supergroup newID: sends to oldID
// answer 400 with parameters.migrate_to_chat_id=newID, and newID works.
func (s *Server) MigrateChat(oldID, newID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.chatLocked(Chat{ID: oldID})
	old.migratedTo = newID
	s.chatLocked(Chat{ID: newID, Type: "supergroup", Title: old.chat.Title})
}

// SetUndecodableResults makes sendMessage and editMessageText, while on, do their work and
// answer 200 ok:true as usual, but with the message's date and chat id as strings: what a
// client sees when Telegram changes a field's type or a proxy rewrites numbers. A client
// that decodes strictly gets an error for a message the chat already has.
func (s *Server) SetUndecodableResults(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.odd = on
}

func (s *Server) undecodable(method string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.odd && (method == "sendMessage" || method == "editMessageText")
}

// oddResult is result with date and chat.id turned into strings; message_id stays a number.
// A result that is not a message (true, for an inline message's edit) is kept.
func oddResult(result any) any {
	raw, err := json.Marshal(result)
	if err != nil {
		return result
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return result
	}
	if d, ok := m["date"]; ok {
		m["date"] = fmt.Sprint(d)
	}
	if chat, ok := m["chat"].(map[string]any); ok {
		if id, ok := chat["id"].(float64); ok {
			chat["id"] = fmt.Sprintf("%d", int64(id))
		}
	}
	return m
}
