package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
)

func TestSplitMessage(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n" // 100 characters a line
	tests := []struct {
		name      string
		text      string
		limit     int
		wantParts int
	}{
		{"short stays whole", "hello", 4096, 1},
		{"exactly the limit", strings.Repeat("é", 4096), 4096, 1},
		{"lines", strings.Repeat(line, 100), 4096, 3},
		{"one huge line", strings.Repeat("y", 10000), 4096, 3},
		{"pre block", "<pre>" + strings.Repeat(line, 100) + "</pre>", 4096, 3},
		// Telegram counts UTF-16 code units: an emoji outside the BMP is two.
		{"emoji at the limit", strings.Repeat("😀", 2048), 4096, 1},
		{"emoji one over", strings.Repeat("😀", 2049), 4096, 2},
		{"emoji-only reply of 4091", strings.Repeat("😀", 4091), 4096, 3},
		{"emoji lines", strings.Repeat(strings.Repeat("🚀", 49)+"\n", 100), 4096, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := SplitMessage(tt.text, tt.limit)
			if len(parts) != tt.wantParts {
				t.Fatalf("%d parts; want %d", len(parts), tt.wantParts)
			}
			var joined strings.Builder
			for i, p := range parts {
				if n := utf16Len(p); n > tt.limit {
					t.Errorf("part %d has %d UTF-16 units; limit %d", i, n, tt.limit)
				}
				if !utf8.ValidString(p) {
					t.Errorf("part %d is cut inside a character", i)
				}
				// Every part is valid Telegram HTML on its own.
				if _, _, err := telegramtest.ParseHTML(p); err != nil {
					t.Errorf("part %d is not valid HTML: %v", i, err)
				}
				joined.WriteString(strings.TrimSuffix(strings.TrimPrefix(p, "<pre>"), "</pre>"))
			}
			plain := strings.NewReplacer("<pre>", "", "</pre>", "", "\n", "").Replace(tt.text)
			if got := strings.ReplaceAll(joined.String(), "\n", ""); got != plain {
				t.Errorf("parts do not add up to the text: lost or changed %d characters", len(plain)-len(got))
			}
			if tt.name == "lines" {
				for i, p := range parts[:len(parts)-1] {
					if !strings.HasSuffix(p, "x") || strings.HasSuffix(p, "\n") {
						t.Errorf("part %d does not end at a line end: %q", i, p[len(p)-5:])
					}
				}
			}
		})
	}
}

// memCallbacks is a callbackStore in memory.
type memCallbacks map[string]string

func (m memCallbacks) PutCallbacks(ctx context.Context, chatIDs []int64, data []string) ([]string, error) {
	keys := make([]string, len(data))
	for i, d := range data {
		keys[i] = fmt.Sprintf("k%d", len(m))
		m[keys[i]] = d
	}
	return keys, nil
}

func TestRenderKeepsButtonDataServerSide(t *testing.T) {
	cb := memCallbacks{}
	long := "force:" + strings.Repeat("z", 200) // far over Telegram's 64 bytes
	req := commands.Request{ChatID: 5, ThreadID: 9, MessageID: 77, UpdateID: 1}
	msgs, err := render(context.Background(), cb, req, []commands.Reply{
		{Text: "pick", Keyboard: [][]commands.Button{{{Text: "A", Data: long}, {Text: "docs", URL: "https://example.org"}}}},
		{Text: "done", Edit: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].ChatID != 5 || msgs[0].ThreadID != 9 {
		t.Fatalf("messages: %+v", msgs)
	}
	var markup struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
			URL          string `json:"url"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal(msgs[0].ReplyMarkup, &markup); err != nil {
		t.Fatal(err)
	}
	b := markup.InlineKeyboard[0][0]
	if len(b.CallbackData) > 64 || cb[b.CallbackData] != long {
		t.Errorf("button carries %q; want a short key to the stored payload", b.CallbackData)
	}
	if markup.InlineKeyboard[0][1].URL != "https://example.org" {
		t.Errorf("link button lost its URL: %+v", markup.InlineKeyboard[0][1])
	}
	if msgs[1].EditMessageID != 77 || string(msgs[1].ReplyMarkup) != `{"inline_keyboard":[]}` {
		t.Errorf("edit reply: edit id %d markup %s; want 77 and an empty keyboard", msgs[1].EditMessageID, msgs[1].ReplyMarkup)
	}
}

func FuzzSplitMessage(f *testing.F) {
	f.Add("<pre>a\nb</pre>", 3)
	f.Add("héllo\nwörld", 4)
	f.Add(strings.Repeat("😀", 4091), 4096)
	f.Add(strings.Repeat("a😀\n", 900), 4096)
	f.Fuzz(func(t *testing.T, text string, limit int) {
		// Limits below 100 leave no room for closing an open <pre>; herald splits at 4096.
		if limit < 100 || limit > 5000 || !utf8.ValidString(text) {
			return
		}
		for _, p := range SplitMessage(text, limit) {
			if n := utf16Len(p); n > limit {
				t.Fatalf("part of %d UTF-16 units over limit %d", n, limit)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("part cut inside a character: %q", p)
			}
		}
	})
}

// A reply of 4091 emoji (8182 UTF-16 units) reaches the chat whole, in parts the fake
// Bot API accepts: it counts length as Telegram does.
func TestLongEmojiReplyIsDelivered(t *testing.T) {
	h := newHarness(t, fastLimits(), fastOptions())
	text := strings.Repeat("😀", 4091)
	out, err := render(context.Background(), memCallbacks{}, commands.Request{ChatID: 42}, []commands.Reply{{Text: text}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.st.Enqueue(context.Background(), out...); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	waitFor(t, "empty outbox", outboxEmpty(t, h.st))
	var got strings.Builder
	for _, m := range h.tg.Messages(42) {
		got.WriteString(m.Text)
	}
	if got.String() != text {
		t.Errorf("the chat got %d of %d emoji in %d messages", utf8.RuneCountInString(got.String()), 4091, len(h.tg.Messages(42)))
	}
}
