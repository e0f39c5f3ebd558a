package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// NewAPI returns the Bot API client every part of herald shares. It does not call Telegram.
// The HTTP timeout leaves room for long polls of pollTimeout.
func NewAPI(token, apiURL string, pollTimeout time.Duration) (*tgbot.Bot, error) {
	client := &http.Client{Timeout: pollTimeout + 15*time.Second}
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

// getUpdates asks for updates from offset on, waiting up to timeout. go-telegram/bot's own
// poller acknowledges updates to Telegram before they are handled, which loses them in a
// crash, so herald polls itself and keeps each update's raw JSON for storage.
func getUpdates(ctx context.Context, client *http.Client, apiURL, token string, offset int64, timeout time.Duration) ([]json.RawMessage, error) {
	body, _ := json.Marshal(map[string]any{
		"offset":          offset,
		"timeout":         int(timeout / time.Second),
		"allowed_updates": []string{"message", "callback_query", "my_chat_member"},
	})
	url := strings.TrimRight(apiURL, "/") + "/bot" + token + "/getUpdates"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("bot: getUpdates: bad Bot API URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("bot: getUpdates: %s", redactError(err, token))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("bot: getUpdates: read: %s", redactError(err, token))
	}
	var r struct {
		OK          bool              `json:"ok"`
		Result      []json.RawMessage `json:"result"`
		ErrorCode   int               `json:"error_code"`
		Description string            `json:"description"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("bot: getUpdates: HTTP %d with a body that is not JSON", resp.StatusCode)
	}
	if !r.OK {
		return nil, fmt.Errorf("bot: getUpdates: %d %s", r.ErrorCode, Redact(r.Description, token))
	}
	return r.Result, nil
}

// decodeUpdate reads the fields herald routes by, leniently (see decodeUpdateLenient): only an
// update without a positive update_id is an error, so anything Telegram sends is stored and
// acknowledged instead of refused or fetched again forever.
func decodeUpdate(raw []byte) (models.Update, error) {
	u, _, err := decodeUpdateLenient(raw)
	return u, err
}
