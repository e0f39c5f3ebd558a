package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// NewAPI returns the Bot API client every part of herald shares. It does not call Telegram.
// The HTTP timeout leaves room for long polls of pollTimeout.
func NewAPI(token, apiURL string, pollTimeout time.Duration) (*tgbot.Bot, error) {
	client := &http.Client{Timeout: pollTimeout + pollGrace}
	b, err := tgbot.New(token,
		tgbot.WithServerURL(strings.TrimRight(apiURL, "/")),
		tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(pollTimeout, client),
		tgbot.WithErrorsHandler(func(error) {}), // herald logs errors where it handles them
	)
	if err != nil {
		return nil, errors.New("bot: cannot create the Bot API client (is the token empty?)")
	}
	return b, nil
}

// redactError is err's text with the token masked. The Bot API URL holds the token, and
// network errors quote the URL.
func redactError(err error, token string) string {
	if err == nil {
		return ""
	}
	return Redact(err.Error(), token)
}

// Redact masks every occurrence of secret in s.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<redacted>")
}

// pollGrace is how long past its timeout a long poll may take before herald gives up on it:
// Telegram answers a quiet poll at the timeout, and the network adds its delay.
const pollGrace = 15 * time.Second

// getUpdates asks for updates from offset on, waiting up to timeout. go-telegram/bot's own
// poller acknowledges updates to Telegram before they are handled, which loses them in a
// crash, so herald polls itself and keeps each update's raw JSON for storage. It goes
// through the sender's caller (rawAPI), so a 409 is tgbot.ErrorConflict and a 429 a
// *tgbot.TooManyRequestsError with its retry_after.
func getUpdates(ctx context.Context, api *rawAPI, offset int64, timeout time.Duration) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout+pollGrace)
	defer cancel()
	res, err := api.call(ctx, "getUpdates", map[string]any{
		"offset":          offset,
		"timeout":         int(timeout / time.Second),
		"allowed_updates": []string{"message", "callback_query", "my_chat_member"},
	})
	if err != nil {
		return nil, err
	}
	var ups []json.RawMessage
	if !bytes.HasPrefix(bytes.TrimSpace(res), []byte("[")) || json.Unmarshal(res, &ups) != nil {
		// Taken as an empty batch, it would hide updates that keep waiting.
		return nil, errors.New("bot: getUpdates: ok:true with a result that is not a list of updates")
	}
	return ups, nil
}

// decodeUpdate reads the fields herald routes by, leniently (see decodeUpdateLenient): only an
// update without a positive update_id is an error, so anything Telegram sends is stored and
// acknowledged instead of refused or fetched again forever.
func decodeUpdate(raw []byte) (models.Update, error) {
	u, _, err := decodeUpdateLenient(raw)
	return u, err
}
