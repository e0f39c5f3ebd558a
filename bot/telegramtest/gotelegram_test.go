package telegramtest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// herald's Telegram library must talk to the fake exactly as to Telegram: multipart
// bodies, its error mapping (429, 403, migrate) and long polling.
func TestGoTelegramBotClient(t *testing.T) {
	s := newTestServer(t, Options{})
	ctx := testCtx(t)
	b, err := bot.New(testToken, bot.WithServerURL(s.URL()), bot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	me, err := b.GetMe(ctx)
	if err != nil || me.Username != "herald_test_bot" {
		t.Fatalf("GetMe = %+v, %v", me, err)
	}
	disabled := true
	msg, err := b.SendMessage(ctx, &bot.SendMessageParams{
		ChatID: group.ID, MessageThreadID: 12, Text: "<b>Build #7</b> failed", ParseMode: models.ParseModeHTML,
		DisableNotification: true, LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: &disabled},
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{
			{Text: "Rebuild", CallbackData: "rebuild:7"}, {Text: "Logs", URL: "https://ci.example/b/7"},
		}}},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if msg.Text != "Build #7 failed" || len(msg.Entities) != 1 || msg.Entities[0].Type != models.MessageEntityTypeBold {
		t.Fatalf("message = %+v", msg)
	}
	want := Message{ChatID: group.ID, ThreadID: 12, MessageID: msg.ID, Text: "<b>Build #7</b> failed", ParseMode: "HTML",
		Keyboard: [][]Button{{{Text: "Rebuild", CallbackData: "rebuild:7"}, {Text: "Logs", URL: "https://ci.example/b/7"}}},
		Silent:   true, NoPreview: true}
	got := s.Messages(group.ID)
	if len(got) != 1 {
		t.Fatalf("messages = %+v", got)
	}
	want.SentAt = got[0].SentAt
	if !messagesEqual(got[0], want) {
		t.Fatalf("recorded %+v, want %+v", got[0], want)
	}

	if _, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: group.ID, MessageID: msg.ID, Text: "Build #7 fixed"}); err != nil {
		t.Fatalf("EditMessageText: %v", err)
	}
	_, err = b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: group.ID, MessageID: msg.ID, Text: "Build #7 fixed"})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message is not modified") {
		t.Fatalf("identical edit: %v", err)
	}
	if ok, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "status", Description: "Status"}}}); !ok || err != nil {
		t.Fatalf("SetMyCommands: %v %v", ok, err)
	}
	if cmds := s.Commands(); len(cmds) != 1 || cmds[0].Command != "status" {
		t.Fatalf("commands = %+v", cmds)
	}

	// Errors map onto the library's types.
	s.FailNext("sendMessage", 0, TooManyRequests(5))
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "x"})
	var tooMany *bot.TooManyRequestsError
	if !errors.As(err, &tooMany) || tooMany.RetryAfter != 5 {
		t.Fatalf("429: %v", err)
	}
	s.MigrateChat(-77, -10077)
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: -77, Text: "x"})
	var migrate *bot.MigrateError
	if !errors.As(err, &migrate) || migrate.MigrateToChatID != -10077 {
		t.Fatalf("migrate: %v", err)
	}
	s.BlockChat(43)
	if _, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 43, Text: "x"}); !errors.Is(err, bot.ErrorForbidden) {
		t.Fatalf("blocked: %v", err)
	}
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "<i>x", ParseMode: models.ParseModeHTML})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "can't parse entities") {
		t.Fatalf("bad html: %v", err)
	}
}

// The library's own long-polling loop receives updates and answers callbacks.
func TestGoTelegramBotPolling(t *testing.T) {
	s := newTestServer(t, Options{})
	texts := make(chan string, 4)
	queries := make(chan string, 4)
	b, err := bot.New(testToken, bot.WithServerURL(s.URL()), bot.WithSkipGetMe(),
		bot.WithHTTPClient(3*time.Second, &http.Client{Timeout: 10 * time.Second}),
		bot.WithDefaultHandler(func(ctx context.Context, b *bot.Bot, u *models.Update) {
			switch {
			case u.Message != nil:
				texts <- u.Message.Text
			case u.CallbackQuery != nil:
				_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "ok"})
				queries <- u.CallbackQuery.Data
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	go func() { defer close(done); b.Start(ctx) }()
	defer func() { cancel(); <-done }()

	s.SendText(PrivateChat(ann), ann, "/status")
	s.SendText(PrivateChat(ann), ann, "/last")
	// The library hands updates to concurrent workers, so only the set is certain.
	seen := map[string]bool{}
	for range 2 {
		select {
		case got := <-texts:
			seen[got] = true
		case <-ctx.Done():
			t.Fatal("update not received")
		}
	}
	if !seen["/status"] || !seen["/last"] {
		t.Fatalf("received %v", seen)
	}
	_, q := s.PressButton(PrivateChat(ann), ann, 1, "press")
	select {
	case got := <-queries:
		if got != "press" {
			t.Fatalf("callback data %q", got)
		}
	case <-ctx.Done():
		t.Fatal("callback not received")
	}
	waitFor(t, func() bool { return len(s.CallbackAnswers()) == 1 })
	if a := s.CallbackAnswers()[0]; a.QueryID != q || a.Text != "ok" {
		t.Fatalf("answer = %+v", a)
	}
}
