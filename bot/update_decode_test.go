package bot

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci/webhook"
	"github.com/herald-ci/herald/commands"
)

// oddMessage is a private /getid from ann as Telegram might send it after changing things
// herald does not use: photo is an object instead of an array, a new field has a new shape,
// one entity has a length of the wrong type, and so has the sender's username.
const oddMessage = `{"message_id":7,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"Ann","username":["ann"],"is_premium":"very"},
"chat":{"id":42,"type":"private","first_name":"Ann","accent":{"r":1}},"text":"/getid",
"entities":[{"type":"bot_command","offset":0,"length":6},{"type":"bold","offset":0,"length":"six"}],
"photo":{"file_id":"x"},"paid_media":[1,2,3]}`

func TestDecodeUpdateLenient(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr bool
		check   func(t *testing.T, u decodedUpdate)
	}{
		{name: "no update_id", raw: `{"message":{"chat":{"id":1}}}`, wantErr: true},
		{name: "zero update_id", raw: `{"update_id":0}`, wantErr: true},
		{name: "update_id not a number", raw: `{"update_id":"7"}`, wantErr: true},
		{name: "not an object", raw: `[1]`, wantErr: true},
		{name: "odd fields in a message", raw: `{"update_id":5,"message":` + oddMessage + `}`, check: func(t *testing.T, u decodedUpdate) {
			m := u.Message
			if m == nil || m.Chat.ID != 42 || m.Chat.Type != "private" || m.From == nil || m.From.ID != 42 || m.Text != "/getid" || m.ID != 7 {
				t.Fatalf("message = %+v", m)
			}
			if len(m.Entities) != 1 || m.Entities[0].Type != "bot_command" || m.Entities[0].Length != 6 {
				t.Errorf("entities = %+v; want the bot_command, the broken one skipped", m.Entities)
			}
			if m.From.FirstName != "Ann" || m.From.Username != "" {
				t.Errorf("from = %+v; want the name read, the username skipped", m.From)
			}
			if want := []string{"message.from.username", "message.entities[1].length"}; !slices.Equal(u.skipped, want) {
				t.Errorf("skipped = %q, want %q", u.skipped, want)
			}
		}},
		{name: "message without a chat", raw: `{"update_id":6,"message":{"text":"/getid","chat":"nope"}}`, check: func(t *testing.T, u decodedUpdate) {
			if u.Message != nil || !slices.Contains(u.skipped, "message") {
				t.Errorf("message = %+v, skipped %q; want it skipped as a whole", u.Message, u.skipped)
			}
		}},
		{name: "anonymous admin", raw: `{"update_id":8,"message":{"message_id":1,"date":1,"from":{"id":1087968824,"is_bot":true,"first_name":"Group"},
			"sender_chat":{"id":-1001,"type":"supergroup","title":"Team"},"chat":{"id":-1001,"type":"supergroup","title":"Team","is_forum":true},
			"is_topic_message":true,"message_thread_id":3,"forum_topic_created":{"name":"ci","icon_color":"red"},"text":"/getid"}}`,
			check: func(t *testing.T, u decodedUpdate) {
				m := u.Message
				if m.SenderChat == nil || m.SenderChat.ID != -1001 || !m.Chat.IsForum || !m.IsTopicMessage || m.MessageThreadID != 3 ||
					m.ForumTopicCreated == nil || m.ForumTopicCreated.Name != "ci" {
					t.Errorf("message = %+v", m)
				}
			}},
		{name: "automatic forward", raw: `{"update_id":9,"message":{"message_id":1,"date":1,"from":{"id":777000,"is_bot":false,"first_name":"Telegram"},
			"sender_chat":{"id":-1002,"type":"channel","title":"News"},"chat":{"id":-1001,"type":"supergroup"},"is_automatic_forward":true,"text":"/force"}}`,
			check: func(t *testing.T, u decodedUpdate) {
				if !u.Message.IsAutomaticForward {
					t.Errorf("message = %+v", u.Message)
				}
			}},
		{name: "button press", raw: `{"update_id":10,"callback_query":{"id":"q1","from":{"id":42,"is_bot":false,"first_name":"Ann"},"data":"k",
			"message":{"message_id":3,"date":5,"chat":{"id":42,"type":"private"},"reply_markup":"changed"}}}`,
			check: func(t *testing.T, u decodedUpdate) {
				cq := u.CallbackQuery
				if cq == nil || cq.ID != "q1" || cq.From.ID != 42 || cq.Data != "k" || cq.Message.Message == nil || cq.Message.Message.Chat.ID != 42 || cq.Message.Message.ID != 3 {
					t.Errorf("callback = %+v", cq)
				}
			}},
		{name: "press on an inaccessible message", raw: `{"update_id":11,"callback_query":{"id":"q2","from":{"id":42,"first_name":"Ann"},"data":"k",
			"message":{"message_id":3,"date":0,"chat":{"id":-1001,"type":"supergroup"}}}}`,
			check: func(t *testing.T, u decodedUpdate) {
				im := u.CallbackQuery.Message.InaccessibleMessage
				if im == nil || im.Chat.ID != -1001 || im.MessageID != 3 {
					t.Errorf("callback = %+v", u.CallbackQuery)
				}
			}},
		{name: "press without an id", raw: `{"update_id":12,"callback_query":{"id":5,"data":"k"}}`, check: func(t *testing.T, u decodedUpdate) {
			if u.CallbackQuery != nil {
				t.Errorf("callback = %+v; want it skipped", u.CallbackQuery)
			}
		}},
		{name: "bot added to a group", raw: `{"update_id":13,"my_chat_member":{"chat":{"id":-1001,"type":"group","title":"T"},"from":{"id":42},"date":1,"old_chat_member":{"status":"left"},"new_chat_member":{"status":"new-kind"}}}`,
			check: func(t *testing.T, u decodedUpdate) {
				if u.MyChatMember == nil || u.MyChatMember.Chat.ID != -1001 {
					t.Errorf("my_chat_member = %+v", u.MyChatMember)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, skipped, err := decodeUpdateLenient([]byte(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, decodedUpdate{u, skipped})
			}
		})
	}
}

// FuzzDecodeUpdate: whatever arrives, decoding never panics, and an update it accepts has a
// positive id.
func FuzzDecodeUpdate(f *testing.F) {
	f.Add(`{"update_id":5,"message":` + oddMessage + `}`)
	f.Add(`{"update_id":10,"callback_query":{"id":"q1","from":{"id":42},"data":"k","message":{"message_id":3,"date":0,"chat":{"id":1}}}}`)
	f.Add(`{"update_id":13,"my_chat_member":{"chat":{"id":-1}}}`)
	f.Add(`{"update_id":1,"message":{"chat":{"id":1},"entities":[null,{"type":1}]}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		u, _, err := decodeUpdateLenient([]byte(raw))
		if err == nil && u.ID <= 0 {
			t.Fatalf("accepted update with id %d", u.ID)
		}
		if err == nil {
			_ = chatOf(&u)
		}
	})
}

// TestOddUpdateHandledWhenPolling is item 12 in polling mode: an update whose fields herald
// does not use have unexpected types is still handled (it was dropped).
func TestOddUpdateHandledWhenPolling(t *testing.T) {
	handler := handlerMap{"getid": commands.GetID().Handler.Handle}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	r.tg.SendRawUpdate("message", json.RawMessage(oddMessage))
	msgs := waitMessages(t, r.tg, ann.ID, 1)
	if !strings.Contains(seen(t, msgs[0]), "Your ID is 42.") {
		t.Errorf("answer %q", seen(t, msgs[0]))
	}
	if !strings.Contains(r.logs.String(), "update has fields herald could not read") {
		t.Errorf("no log line names the fields skipped")
	}
}

// TestOddUpdateAcceptedByWebhook is item 12 in webhook mode: such an update is stored,
// answered 200 (a 400 made Telegram send it again forever) and handled; only an update
// without update_id is refused.
func TestOddUpdateAcceptedByWebhook(t *testing.T) {
	handler := handlerMap{"getid": commands.GetID().Handler.Handle}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	wh := NewWebhook(r.st, r.in, "s3cret", zerolog.New(zerolog.NewTestWriter(t)))
	post := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(body))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s3cret")
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post(`{"update_id":900000001,"message":` + oddMessage + `}`); code != http.StatusOK {
		t.Fatalf("odd update: HTTP %d, want 200", code)
	}
	msgs := waitMessages(t, r.tg, ann.ID, 1)
	if !strings.Contains(seen(t, msgs[0]), "Your ID is 42.") {
		t.Errorf("answer %q", seen(t, msgs[0]))
	}
	if code := post(`{"message":` + oddMessage + `}`); code != http.StatusBadRequest {
		t.Errorf("update without update_id: HTTP %d, want 400", code)
	}
}

// TestWebhookRefusalLogRateLimited is item 13's log line: anyone who finds the webhook URL
// may post to it without the secret, as often as they like; herald writes one line a minute
// about it, with how many it held back, instead of one per request.
func TestWebhookRefusalLogRateLimited(t *testing.T) {
	logs := &lockedBuffer{}
	clock := &settableClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	wh := NewWebhook(nil, nil, "s3cret", zerolog.New(logs))
	wh.refused = webhook.NewLogLimiter(time.Minute, clock.Now)
	refuse := func(n int) {
		for range n {
			req := httptest.NewRequest(http.MethodPost, "/telegram/webhook", strings.NewReader(`{"update_id":1}`))
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "guess")
			rec := httptest.NewRecorder()
			wh.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401", rec.Code)
			}
		}
	}
	lines := func() []string { return strings.Split(strings.TrimSpace(logs.String()), "\n") }
	refuse(50)
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], `"suppressed":0`) {
		t.Fatalf("after 50 refusals the log has %d lines: %q; want 1", len(got), got)
	}
	clock.Advance(time.Minute)
	refuse(1)
	if got := lines(); len(got) != 2 || !strings.Contains(got[1], `"suppressed":49`) {
		t.Fatalf("a minute later: %q; want a second line counting the 49 held back", got)
	}
	if strings.Contains(logs.String(), "guess") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("the log shows a token: %s", logs.String())
	}
}

// decodedUpdate bundles what decodeUpdateLenient returns for the table's checks.
type decodedUpdate struct {
	models.Update
	skipped []string
}
