package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// rawAPI is herald's own Bot API caller, for the calls whose answers matter most: the
// sender's sends and edits, and the poller's getUpdates. go-telegram/bot decodes every answer
// into its models and returns an error when a field does not fit (Telegram changed a type, a
// proxy rewrote a number), even when Telegram answered ok:true and the chat already has the
// message; the sender would then send it again and again, and the poller would fetch the
// same updates forever. Here the envelope is read leniently: ok:true is a success whatever
// else the body holds, and each caller reads only what it needs of the result. Refusals come
// back as go-telegram/bot's error values, so the sender (deliver) and the poller classify
// them alike: retry_after, migrate_to_chat_id, 403, 409. The token never appears in an error.
type rawAPI struct {
	base   string // Bot API URL with /bot<token>/, methods are appended
	token  string // to mask it in errors
	client *http.Client
}

// serverURL is apiURL, or, when that is empty, the Bot API server api was made for.
func serverURL(api *tgbot.Bot, apiURL string) string {
	if apiURL != "" {
		return apiURL
	}
	// FileDownloadLink is the documented <server>/file/bot<token>/<path>: the one place
	// go-telegram/bot tells its server URL.
	return strings.TrimSuffix(api.FileDownloadLink(&models.File{}), "/file/bot"+api.Token()+"/")
}

// newRawAPI calls the Bot API at apiURL with token, keeping up to conns connections alive.
// Its client has no timeout: each call's ctx bounds it (the sender's SendTimeout, the long
// poll's timeout plus pollGrace).
func newRawAPI(token, apiURL string, conns int) *rawAPI {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(conns, 2) // one kept-alive connection per worker
	return &rawAPI{
		base:   strings.TrimRight(apiURL, "/") + "/bot" + token + "/",
		token:  token,
		client: &http.Client{Transport: tr},
	}
}

// maxAnswer bounds what is read of an answer. A sent message is a few kilobytes, but
// getUpdates may answer 100 updates of a few megabytes each.
const maxAnswer = 64 << 20

// errAnswerTooLong is wrapped when an answer is longer than maxAnswer: a cut answer is not
// read as if it were whole.
var errAnswerTooLong = errors.New("the answer is longer than herald reads (64 MiB)")

// call posts params as JSON to method and returns the result of an ok:true answer.
func (a *rawAPI) call(ctx context.Context, method string, params map[string]any) (json.RawMessage, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("bot: %s: encode: %w", method, err)
	}
	return a.post(ctx, method, "application/json", bytes.NewReader(body))
}

// post sends body of contentType to method and returns the result of an ok:true answer;
// the JSON calls and the uploads share it.
func (a *rawAPI) post(ctx context.Context, method, contentType string, body io.Reader) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+method, body)
	if err != nil {
		return nil, fmt.Errorf("bot: %s: bad Bot API URL", method)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := a.client.Do(req)
	if err != nil {
		// The URL holds the token and network errors quote it.
		return nil, errors.New("bot: " + method + ": " + Redact(err.Error(), a.token))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, errors.New("bot: " + method + ": read the answer: " + Redact(err.Error(), a.token))
	}
	if len(raw) > maxAnswer {
		return nil, fmt.Errorf("bot: %s: HTTP %d: %w", method, resp.StatusCode, errAnswerTooLong)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		// No envelope at all (a proxy's error page): nothing says Telegram took it.
		return nil, fmt.Errorf("bot: %s: HTTP %d with an answer that is not a Bot API object", method, resp.StatusCode)
	}
	if string(bytes.TrimSpace(env["ok"])) == "true" {
		return env["result"], nil
	}
	return nil, apiError(method, resp.StatusCode, env, a.token)
}

// apiError turns a refusal into the error go-telegram/bot would return for it, each field
// read on its own so one odd field does not hide the others.
func apiError(method string, status int, env map[string]json.RawMessage, token string) error {
	code := int(lenientInt(env["error_code"]))
	if code == 0 {
		code = status
	}
	var desc string
	_ = json.Unmarshal(env["description"], &desc)
	desc = Redact(desc, token) // a proxy's description may quote the URL
	var params map[string]json.RawMessage
	_ = json.Unmarshal(env["parameters"], &params)
	switch code {
	case http.StatusTooManyRequests:
		return &tgbot.TooManyRequestsError{Message: "too many requests, " + desc, RetryAfter: int(lenientInt(params["retry_after"]))}
	case http.StatusBadRequest:
		if to := lenientInt(params["migrate_to_chat_id"]); to != 0 {
			return &tgbot.MigrateError{Message: "bad request: " + desc, MigrateToChatID: int(to)}
		}
		return fmt.Errorf("%w, %s", tgbot.ErrorBadRequest, desc)
	case http.StatusForbidden:
		return fmt.Errorf("%w, %s", tgbot.ErrorForbidden, desc)
	case http.StatusUnauthorized:
		return fmt.Errorf("%w, %s", tgbot.ErrorUnauthorized, desc)
	case http.StatusNotFound:
		return fmt.Errorf("%w, %s", tgbot.ErrorNotFound, desc)
	case http.StatusConflict:
		return fmt.Errorf("%w, %s", tgbot.ErrorConflict, desc)
	default:
		return fmt.Errorf("bot: %s: error response from telegram, %d %s", method, code, desc)
	}
}

// messageID reads result.message_id as a number or a numeric string; 0 when the result has
// none (an edit of an inline message answers true).
func messageID(result json.RawMessage) int {
	var m map[string]json.RawMessage
	if json.Unmarshal(result, &m) != nil {
		return 0
	}
	return int(lenientInt(m["message_id"]))
}

// lenientInt reads a JSON number or a string holding one; anything else is 0.
func lenientInt(raw json.RawMessage) int64 {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		if i, err := n.Int64(); err == nil {
			return i
		}
		if f, err := n.Float64(); err == nil {
			return int64(f)
		}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return i
		}
	}
	return 0
}
