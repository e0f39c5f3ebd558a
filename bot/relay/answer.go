package relay

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// apiError is a Bot API refusal: error_code and description as Telegram gives them.
type apiError struct {
	code        int
	description string
}

var (
	errUnauthorized   = &apiError{http.StatusUnauthorized, "Unauthorized"}
	errNotFound       = &apiError{http.StatusNotFound, "Not Found"}
	errEntityTooLarge = &apiError{http.StatusRequestEntityTooLarge, "Request Entity Too Large"}
	errInternal       = &apiError{http.StatusInternalServerError, "Internal Server Error"}
)

func badRequest(what string) *apiError {
	return &apiError{http.StatusBadRequest, "Bad Request: " + what}
}

func forbidden(what string) *apiError {
	return &apiError{http.StatusForbidden, "Forbidden: " + what}
}

// envelope is the Bot API's answer: ok and result, or ok false with error_code and
// description.
type envelope struct {
	OK          bool   `json:"ok"`
	Result      any    `json:"result,omitempty"`
	ErrorCode   int    `json:"error_code,omitempty"`
	Description string `json:"description,omitempty"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	write(w, e.code, envelope{ErrorCode: e.code, Description: e.description})
}

func writeResult(w http.ResponseWriter, result any) {
	write(w, http.StatusOK, envelope{OK: true, Result: result})
}

func write(w http.ResponseWriter, status int, env envelope) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Telegram does not escape <, > and & either
	if err := enc.Encode(env); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// message is the Message a relayed call answers with. Its message_id is herald's (the outbox
// row's): the Telegram message does not exist yet when the call is answered. A sent photo or
// document has no file_id yet either, so the answer carries the caption but no photo or
// document object.
type message struct {
	MessageID       int64       `json:"message_id"`
	MessageThreadID int64       `json:"message_thread_id,omitempty"`
	Date            int64       `json:"date"`
	Chat            messageChat `json:"chat"`
	Text            string      `json:"text,omitempty"`
	Caption         string      `json:"caption,omitempty"`
}

type messageChat struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Title    string `json:"title,omitempty"`
	Username string `json:"username,omitempty"`
}
