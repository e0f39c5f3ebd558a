package bot

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tgbot "github.com/go-telegram/bot"

	"github.com/herald-ci/herald/bot/telegramtest"
)

// The poller's getUpdates and the sender's sends share one caller, so a refusal of either
// is the same go-telegram/bot error value and never quotes the token.
func TestGetUpdatesErrors(t *testing.T) {
	tg := telegramtest.New(telegramtest.Options{Token: testToken})
	defer tg.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	tests := []struct {
		name string
		fail *telegramtest.Failure
		url  string
		want func(error) bool
	}{
		{name: "429 keeps retry_after", fail: &telegramtest.Failure{Code: 429, Description: "Too Many Requests: retry after 7", RetryAfter: 7},
			want: func(err error) bool {
				var tm *tgbot.TooManyRequestsError
				return errors.As(err, &tm) && tm.RetryAfter == 7
			}},
		{name: "409 is a conflict", fail: &telegramtest.Failure{Code: 409, Description: "Conflict: terminated by other getUpdates request"},
			want: func(err error) bool { return errors.Is(err, tgbot.ErrorConflict) }},
		{name: "401 is unauthorized", fail: &telegramtest.Failure{Code: 401, Description: "Unauthorized"},
			want: func(err error) bool { return errors.Is(err, tgbot.ErrorUnauthorized) }},
		{name: "a description quoting the token", fail: &telegramtest.Failure{Code: 502, Description: "Bad Gateway: /bot" + testToken + "/getUpdates"},
			want: func(err error) bool { return strings.Contains(err.Error(), "502") }},
		{name: "network error", url: gone.URL,
			want: func(err error) bool { return strings.HasPrefix(err.Error(), "bot: getUpdates: ") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tg.URL()
			if tt.url != "" {
				url = tt.url
			}
			if tt.fail != nil {
				tg.FailNext("getUpdates", 0, *tt.fail)
			}
			_, err := getUpdates(context.Background(), newRawAPI(testToken, url, 1), 0, 0)
			if err == nil || !tt.want(err) {
				t.Fatalf("getUpdates = %v", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}
