package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a fake Bot API server.
type Options struct {
	Token       string // required; requests under another token answer 401
	BotUsername string // default "herald_test_bot"
	BotID       int64  // default 7000000001
	// Limits enforces Telegram's flood limits on sendMessage; nil leaves them off.
	Limits *Limits
	// Log receives one line per request (method, status, chat). It never sees the token.
	Log io.Writer
	// StrictChats makes sends to chats the server has never seen answer
	// 400 "Bad Request: chat not found", as Telegram does. Off, any chat id works.
	StrictChats bool
	// Now is the clock for limits, message dates and outages; default time.Now.
	Now func() time.Time
	// WebhookRetry is the first pause before redelivering a webhook update that was
	// refused; it doubles up to 16x. Default 100ms (Telegram waits longer; tests
	// should not).
	WebhookRetry time.Duration
	// OnMessage, if set, is called (outside the server's lock) with every message the
	// bot sends or edits. cmd/fake-telegram prints them.
	OnMessage func(Message)
}

// Server is an in-process fake of Telegram's Bot API. It is safe for concurrent use.
type Server struct {
	opts  Options
	now   func() time.Time
	bot   User
	ln    net.Listener
	http  *http.Server
	url   string
	hooks *http.Client

	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
	logMu     sync.Mutex

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change waiters care about

	// Updates (updates.go).
	nextUpdateID int64
	queue        []queuedUpdate
	fetched      int64
	allowed      map[string]bool
	pollGen      uint64
	polls        pollStats

	// Webhook (webhook.go).
	hook webhookState

	// Chats and messages (chats.go, messages.go).
	chats   map[int64]*chatState
	users   map[int64]User
	members map[[2]int64]string
	allSent []Message

	// Callback queries and commands (callbacks.go).
	nextQueryID int64
	queries     map[string]pendingQuery
	answers     []CallbackAnswer
	commands    map[string][]BotCommand

	// Failure injection (failures.go) and limits (limits.go).
	failures    []queuedFailure
	outageUntil time.Time
	hold        chan struct{}
	held        int
	limiter     *limiter
	odd         bool // SetUndecodableResults

	stats Stats
}

// User is a Telegram user the test acts as.
type User struct {
	ID        int64
	FirstName string
	Username  string
}

// Stats counts what the server answered.
type Stats struct {
	Sent        int            // sendMessage calls recorded
	RateLimited int            // 429s answered, by Limits or injected with FailNext
	Injected    int            // failures answered from FailNext, outages, blocks, migrations
	Calls       map[string]int // requests per Bot API method
}

// New starts a fake Bot API server on 127.0.0.1 with a free port. It panics if it
// cannot listen, like httptest.NewServer, because a test cannot go on without it.
func New(opts Options) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("telegramtest: listen: %v", err))
	}
	return NewWithListener(opts, ln)
}

// NewWithListener serves the fake Bot API on ln (cmd/fake-telegram uses a fixed
// address). The server owns ln and closes it in Close.
func NewWithListener(opts Options, ln net.Listener) *Server {
	s := newServer(opts)
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.http.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	go func() {
		defer s.wg.Done()
		s.deliverWebhooks()
	}()
	return s
}

func newServer(opts Options) *Server {
	if opts.Token == "" {
		panic("telegramtest: Options.Token is required")
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "herald_test_bot"
	}
	if opts.BotID == 0 {
		opts.BotID = 7000000001
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebhookRetry <= 0 {
		opts.WebhookRetry = 100 * time.Millisecond
	}
	s := &Server{
		opts:         opts,
		now:          opts.Now,
		bot:          User{ID: opts.BotID, FirstName: "Herald Test", Username: opts.BotUsername},
		hooks:        &http.Client{Timeout: 10 * time.Second},
		closed:       make(chan struct{}),
		changed:      make(chan struct{}),
		nextUpdateID: 100001,
		chats:        map[int64]*chatState{},
		users:        map[int64]User{},
		members:      map[[2]int64]string{},
		queries:      map[string]pendingQuery{},
		commands:     map[string][]BotCommand{},
		stats:        Stats{Calls: map[string]int{}},
	}
	if opts.Limits != nil {
		s.limiter = newLimiter(*opts.Limits)
	}
	return s
}

// URL is the base URL to give a Bot API client: requests go to URL()+"/bot<token>/<method>".
func (s *Server) URL() string { return s.url }

// Bot is the bot's own user, as getMe reports it.
func (s *Server) Bot() User { return s.bot }

// Close stops the server, ends long polls and held sends, and waits for its goroutines.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.http != nil {
			_ = s.http.Close()
		}
		s.wg.Wait()
	})
}

// notifyLocked wakes everyone waiting for a state change. Callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// apiError is a Bot API failure reply.
type apiError struct {
	Code        int
	Description string
	RetryAfter  int
	MigrateTo   int64
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

type handlerFunc func(s *Server, r *http.Request, p params) (any, *apiError)

type method struct {
	name string
	fn   handlerFunc
}

// methods is keyed by lower-case name: Telegram matches method names case-insensitively.
var methods = map[string]method{}

func register(name string, fn handlerFunc) {
	methods[strings.ToLower(name)] = method{name: name, fn: fn}
}

func init() {
	register("getMe", (*Server).getMe)
	register("getUpdates", (*Server).getUpdates)
	register("sendMessage", (*Server).sendMessage)
	register("editMessageText", (*Server).editMessageText)
	register("editMessageReplyMarkup", (*Server).editMessageReplyMarkup)
	register("deleteMessage", (*Server).deleteMessage)
	register("answerCallbackQuery", (*Server).answerCallbackQuery)
	register("setMyCommands", (*Server).setMyCommands)
	register("getMyCommands", (*Server).getMyCommands)
	register("deleteMyCommands", (*Server).deleteMyCommands)
	register("setWebhook", (*Server).setWebhook)
	register("deleteWebhook", (*Server).deleteWebhook)
	register("getWebhookInfo", (*Server).getWebhookInfo)
	register("getChatMember", (*Server).getChatMember)
	register("getChat", (*Server).getChat)
	register("sendChatAction", (*Server).sendChatAction)
}

// Handler serves the Bot API under /bot<token>/<method> and the control API
// (ControlHandler) under /fake/.
func (s *Server) Handler() http.Handler {
	control := s.ControlHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fake/") {
			control.ServeHTTP(w, r)
			return
		}
		s.serveBotAPI(w, r)
	})
}

func (s *Server) serveBotAPI(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	if !ok {
		s.reply(w, r, "", nil, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	token, name, ok := strings.Cut(rest, "/")
	if !ok || token == "" {
		s.reply(w, r, "", nil, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	if token != s.opts.Token {
		s.reply(w, r, name, nil, &apiError{Code: http.StatusUnauthorized, Description: "Unauthorized"})
		return
	}
	m, ok := methods[strings.ToLower(name)]
	if !ok {
		s.reply(w, r, name, nil, &apiError{Code: http.StatusNotFound, Description: "Not Found"})
		return
	}
	p, err := parseParams(r)
	s.mu.Lock()
	s.stats.Calls[m.name]++
	s.mu.Unlock()
	if err != nil {
		s.reply(w, r, m.name, p, badRequest("%v", err))
		return
	}
	if apiErr := s.injectedFailure(m.name, p); apiErr != nil {
		s.reply(w, r, m.name, p, apiErr)
		return
	}
	result, apiErr := m.fn(s, r, p)
	if apiErr == nil && s.undecodable(m.name) {
		result = oddResult(result)
	}
	s.reply(w, r, m.name, p, apiErr, result)
}

type responseParams struct {
	RetryAfter      int   `json:"retry_after,omitempty"`
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
}

type response struct {
	OK          bool            `json:"ok"`
	Result      any             `json:"result,omitempty"`
	ErrorCode   int             `json:"error_code,omitempty"`
	Description string          `json:"description,omitempty"`
	Parameters  *responseParams `json:"parameters,omitempty"`
}

// reply writes a Bot API envelope. result is variadic so failure paths can omit it.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, name string, p params, apiErr *apiError, result ...any) {
	resp := response{OK: apiErr == nil}
	status := http.StatusOK
	if apiErr != nil {
		status = apiErr.Code
		resp.ErrorCode = apiErr.Code
		resp.Description = apiErr.Description
		if apiErr.RetryAfter > 0 || apiErr.MigrateTo != 0 {
			resp.Parameters = &responseParams{RetryAfter: apiErr.RetryAfter, MigrateToChatID: apiErr.MigrateTo}
		}
	} else if len(result) > 0 {
		resp.Result = result[0]
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Telegram does not escape <, > and & either
	var body []byte
	if err := enc.Encode(resp); err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	} else {
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	s.logRequest(name, p, status, resp.Description)
}

// logRequest writes one line about a request. It deliberately has no access to the
// URL: the token lives in the path and must never reach a log.
func (s *Server) logRequest(name string, p params, status int, desc string) {
	if s.opts.Log == nil {
		return
	}
	if name == "" {
		name = "-"
	}
	line := fmt.Sprintf("telegramtest: method=%s status=%d", name, status)
	if c, ok := p["chat_id"]; ok {
		line += " chat_id=" + c
	}
	if desc != "" {
		line += fmt.Sprintf(" description=%q", desc)
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	_, _ = fmt.Fprintln(s.opts.Log, line)
}

// Calls reports how many requests for a Bot API method arrived with the right token.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := methods[strings.ToLower(method)]; ok {
		method = m.name
	}
	return s.stats.Calls[method]
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Calls = make(map[string]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		st.Calls[k] = v
	}
	return st
}

type apiUser struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
}

func toAPIUser(u User, isBot bool) apiUser {
	name := u.FirstName
	if name == "" {
		name = u.Username
	}
	if name == "" {
		name = fmt.Sprintf("user%d", u.ID)
	}
	return apiUser{ID: u.ID, IsBot: isBot, FirstName: name, Username: u.Username}
}

func (s *Server) getMe(_ *http.Request, _ params) (any, *apiError) {
	return struct {
		apiUser
		CanJoinGroups           bool `json:"can_join_groups"`
		CanReadAllGroupMessages bool `json:"can_read_all_group_messages"`
		SupportsInlineQueries   bool `json:"supports_inline_queries"`
	}{apiUser: toAPIUser(s.bot, true), CanJoinGroups: true}, nil
}

// errClosed is what waits return when the server shuts down under them.
var errClosed = errors.New("telegramtest: server closed")
