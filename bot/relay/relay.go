// Package relay is herald's Bot API relay: POST /relay/<relay token>/sendMessage (and
// sendPhoto, sendDocument) for tools that can only be pointed at Telegram's URL. A call is
// checked the way Telegram checks it and answered the way Telegram answers, then queued in the
// outbox, so it goes out with herald's retries, Telegram's limits and each chat's order kept,
// and the bot's own token never leaves herald. Relay tokens are the admin's (config
// relay.tokens), each limited to the chats it names.
package relay

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// Telegram's limits on uploads: photos 10 MB, other files 50 MB.
const (
	maxPhotoBytes = 10 << 20
	maxFileBytes  = 50 << 20
	// maxBody leaves room beside the largest file for the other fields and multipart's framing.
	maxBody = maxFileBytes + 1<<20
	// maxSmallBody bounds a call that cannot carry a file (JSON, a form, a query): Telegram's
	// own limits on what such a call holds (4096 characters of text, small markup) are far
	// below it, and unlike uploads these calls are not counted, so each must stay small.
	maxSmallBody = 1 << 20
)

// Token is one relay token and the chats it may write to.
type Token struct {
	Name   string // for logs; the secret is never logged
	Secret string
	Chats  []Chat
}

// Chat is a chat a token may write to. Thread 0 allows every topic of it (and the chat
// itself); a Thread above 0 allows that topic alone, and a call naming no topic goes there.
type Chat struct {
	ID, Thread int64
}

// Options tune a Handler.
type Options struct {
	Tokens []Token
	Now    func() time.Time // the answer's date; default time.Now
	// Wake, if set, is called after a call was queued, for a sender in this process; a sender
	// elsewhere is woken by the outbox's own notification.
	Wake func()
}

// Handler serves the relay under /relay/.
type Handler struct {
	st     *store.Store
	tokens []token
	now    func() time.Time
	wake   func()
	log    zerolog.Logger
	// uploads bounds the multipart calls read at once: each may hold 50 MB in memory.
	uploads chan struct{}
}

// maxUploads is how many multipart calls are read at once; others wait their turn.
const maxUploads = 4

// token is a Token with its secret hashed, compared in constant time.
type token struct {
	Token
	sum [sha256.Size]byte
}

// New makes the relay's handler.
func New(st *store.Store, opts Options, log zerolog.Logger) *Handler {
	h := &Handler{st: st, now: opts.Now, wake: opts.Wake, log: log, uploads: make(chan struct{}, maxUploads)}
	if h.now == nil {
		h.now = time.Now
	}
	for _, t := range opts.Tokens {
		h.tokens = append(h.tokens, token{Token: t, sum: sha256.Sum256([]byte(t.Secret))})
	}
	return h
}

// methods are the relayed methods by their lower-case name: Telegram matches method names in
// any case.
var methods = map[string]string{
	"sendmessage":  store.RelaySendMessage,
	"sendphoto":    store.RelaySendPhoto,
	"senddocument": store.RelaySendDocument,
}

// ServeHTTP answers one Bot API call at /relay/<token>/<method>, with GET or POST as Telegram
// takes them.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/relay/")
	secret, name, ok := strings.Cut(rest, "/")
	if !ok || secret == "" || strings.Contains(name, "/") {
		writeError(w, errNotFound)
		return
	}
	tok := h.token(secret)
	if tok == nil {
		writeError(w, errUnauthorized)
		return
	}
	method, ok := methods[strings.ToLower(name)]
	if !ok {
		writeError(w, errNotFound)
		return
	}
	log := h.log.With().Str("relay_token", tok.Name).Str("method", method).Logger()
	limit := int64(maxSmallBody)
	// Decided as decodeBody decides it (the parsed media type, in any case): a body read as
	// multipart always waits its turn.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		select {
		case h.uploads <- struct{}{}:
			defer func() { <-h.uploads }()
		case <-r.Context().Done():
			return // the tool went away
		}
		limit = maxBody
	}
	p, err := parseParams(r, limit)
	switch {
	case errors.Is(err, errTooLarge):
		writeError(w, errEntityTooLarge)
		return
	case err != nil:
		writeError(w, badRequest(strings.TrimPrefix(err.Error(), "relay: ")))
		return
	}
	c, apiErr := h.build(r.Context(), tok, method, p)
	if apiErr != nil {
		log.Debug().Int("error_code", apiErr.code).Str("description", apiErr.description).Msg("relay: call refused")
		writeError(w, apiErr)
		return
	}
	id, err := h.st.EnqueueRelay(r.Context(), c.msg, c.call)
	if err != nil {
		if store.IsDataError(err) {
			// A NUL in a text, say: Postgres refuses it, and Telegram would not have shown it.
			writeError(w, badRequest("text must not contain NUL characters"))
			return
		}
		log.Error().Err(err).Int64("chat_id", c.msg.ChatID).Msg("relay: queue the call")
		writeError(w, errInternal)
		return
	}
	log.Info().Int64("chat_id", c.msg.ChatID).Int64("outbox_id", id).Msg("relay: call queued")
	if h.wake != nil {
		h.wake()
	}
	writeResult(w, c.result(id, h.now()))
}

// token finds the token whose secret is secret, comparing every one in constant time.
func (h *Handler) token(secret string) *token {
	sum := sha256.Sum256([]byte(secret))
	var found *token
	for i := range h.tokens {
		if subtle.ConstantTimeCompare(sum[:], h.tokens[i].sum[:]) == 1 {
			found = &h.tokens[i]
		}
	}
	return found
}

// resolveChat finds the chat a call names and checks that tok may write to it (and to the
// topic asked for), returning the chat and the topic the message goes to.
func (h *Handler) resolveChat(ctx context.Context, tok *token, p params) (store.Chat, int64, *apiError) {
	v := strings.TrimSpace(p.str("chat_id"))
	if v == "" {
		return store.Chat{}, 0, badRequest("chat_id is empty")
	}
	var chat store.Chat
	if name, ok := strings.CutPrefix(v, "@"); ok {
		c, err := h.st.ChatByUsername(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.Chat{}, 0, badRequest("chat not found")
		case err != nil:
			h.log.Error().Err(err).Msg("relay: look up a chat by username")
			return store.Chat{}, 0, errInternal
		}
		chat = c
	} else {
		id, ok := parseInt(v)
		if !ok || id == 0 {
			return store.Chat{}, 0, badRequest("chat not found")
		}
		chat = store.Chat{ID: id}
		if c, err := h.st.ChatByID(ctx, id); err == nil {
			chat = c
		}
	}
	thread, ok := parseInt(p.str("message_thread_id"))
	if !ok || thread < 0 {
		return store.Chat{}, 0, badRequest("invalid message_thread_id")
	}
	chatAllowed := false
	for _, c := range tok.Chats {
		if c.ID != chat.ID {
			continue
		}
		chatAllowed = true
		switch {
		case c.Thread == 0:
			return chat, thread, nil
		case thread == 0 || thread == c.Thread:
			return chat, c.Thread, nil
		}
	}
	if chatAllowed {
		return store.Chat{}, 0, forbidden("this relay token may not write to this topic of the chat")
	}
	return store.Chat{}, 0, forbidden("this relay token may not write to this chat")
}
