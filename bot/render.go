package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci/tghtml"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// MaxMessageLength is Telegram's limit on a message's text, in UTF-16 code units after
// entity parsing (an emoji outside the BMP counts two); we count the HTML source, which is
// never shorter, so a part within it is safe.
const MaxMessageLength = tghtml.MaxMessage

// callbackStore keeps button payloads server-side: data[i] for chat chatIDs[i], all in one
// round trip, returning their keys in order (store.Tx.PutCallbacks).
type callbackStore interface {
	PutCallbacks(ctx context.Context, chatIDs []int64, data []string) ([]string, error)
}

// render turns a handler's replies into outbox messages for the chat the request came from.
// Buttons' data is stored server-side, every reply's in one round trip; the button carries
// only its short key.
func render(ctx context.Context, cb callbackStore, req commands.Request, replies []commands.Reply) ([]store.OutMessage, error) {
	chats := make([]int64, len(replies))
	kbs := make([][][]commands.Button, len(replies))
	for i, r := range replies {
		chats[i], kbs[i] = req.ChatID, r.Keyboard
		if r.ChatID != 0 {
			chats[i] = r.ChatID // a reply to another chat (registration): its buttons are that chat's
		}
	}
	markups, err := keyboardMarkups(ctx, cb, chats, kbs)
	if err != nil {
		return nil, err
	}
	var out []store.OutMessage
	for ri, r := range replies {
		markup := markups[ri]
		parts := SplitMessage(r.Text, MaxMessageLength)
		for i, part := range parts {
			m := store.OutMessage{
				ChatID:   req.ChatID,
				ThreadID: req.ThreadID,
				Text:     part,
				Silent:   r.Silent,
				UpdateID: req.UpdateID,
			}
			if r.ChatID != 0 {
				m.ChatID, m.ThreadID = r.ChatID, r.ThreadID
			}
			if i == len(parts)-1 {
				m.ReplyMarkup = markup
			}
			target := req.MessageID
			if r.MessageID != 0 {
				target = r.MessageID
			}
			if r.Edit && i == 0 && target != 0 && r.ChatID == 0 {
				m.EditMessageID = target
				if markup == nil && len(parts) == 1 {
					// An edit without a keyboard removes the old one.
					m.ReplyMarkup = []byte(`{"inline_keyboard":[]}`)
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

type inlineButton struct {
	Text         string `json:"text"`
	CallbackData string `json:"callback_data,omitempty"`
	URL          string `json:"url,omitempty"`
}

type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

// keyboardMarkups is the reply_markup of each keyboard kbs[i], whose buttons' payloads are
// stored for chat chatIDs[i]: all of them in one round trip, however many chats a
// notification goes to. An empty keyboard has no markup (nil).
func keyboardMarkups(ctx context.Context, cb callbackStore, chatIDs []int64, kbs [][][]commands.Button) ([][]byte, error) {
	var chats []int64
	var data []string
	for i, kb := range kbs {
		for _, row := range kb {
			for _, b := range row {
				if b.URL == "" {
					chats, data = append(chats, chatIDs[i]), append(data, b.Data)
				}
			}
		}
	}
	var keys []string
	if len(data) > 0 {
		var err error
		if keys, err = cb.PutCallbacks(ctx, chats, data); err != nil {
			return nil, fmt.Errorf("bot: keyboard: %w", err)
		}
		if len(keys) != len(data) {
			return nil, fmt.Errorf("bot: keyboard: %d keys for %d buttons", len(keys), len(data))
		}
	}
	out := make([][]byte, len(kbs))
	next := 0
	for i, kb := range kbs {
		if len(kb) == 0 {
			continue
		}
		rows := make([][]inlineButton, 0, len(kb))
		for _, row := range kb {
			btns := make([]inlineButton, 0, len(row))
			for _, b := range row {
				ib := inlineButton{Text: b.Text, URL: b.URL}
				if b.URL == "" {
					ib.CallbackData = keys[next]
					next++
				}
				btns = append(btns, ib)
			}
			rows = append(rows, btns)
		}
		raw, err := json.Marshal(inlineKeyboard{InlineKeyboard: rows})
		if err != nil {
			return nil, fmt.Errorf("bot: keyboard: %w", err)
		}
		out[i] = raw
	}
	return out, nil
}

// SplitMessage cuts text into parts of at most limit UTF-16 code units (Telegram's unit:
// counting runes lets a reply of emoji through at up to twice the limit, and Telegram
// refuses it), at line ends where it can, so a long /status still arrives whole. A single
// line longer than limit is cut inside the line, never inside a character. An open <pre> or
// <code> block is closed at the end of a part and reopened in the next, so every part is
// valid HTML on its own.
func SplitMessage(text string, limit int) []string {
	if utf16Units(text) <= limit {
		return []string{text}
	}
	// Leave room for the closing and reopening tags balancePre may add.
	if reserve := len("<pre></pre><code></code>"); limit > 4*reserve {
		limit -= reserve
	}
	var (
		parts []string
		cur   strings.Builder
		n     int
	)
	flush := func() {
		if cur.Len() > 0 {
			parts = append(parts, strings.TrimRight(cur.String(), "\n"))
			cur.Reset()
			n = 0
		}
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		ln := utf16Units(line)
		if n+ln > limit {
			flush()
		}
		for ln > limit { // one line longer than a message
			cut := unitPrefix(line, limit)
			parts = append(parts, cut)
			line = line[len(cut):]
			ln = utf16Units(line)
		}
		cur.WriteString(line)
		n += ln
	}
	flush()
	return balancePre(parts)
}

// utf16Units is the length of s as Telegram counts it.
func utf16Units(s string) int { return tghtml.Len(s) }

// unitPrefix is the longest prefix of s of whole characters within n UTF-16 units; at least
// one character, so a cut always makes progress.
func unitPrefix(s string, n int) string {
	used := 0
	for pos, r := range s {
		used += utf16.RuneLen(r)
		if used > n {
			if pos == 0 {
				_, size := utf8.DecodeRuneInString(s)
				return s[:size]
			}
			return s[:pos]
		}
	}
	return s
}

// balancePre closes a <pre>/<code> left open at the end of a part and reopens it in the next.
// Cutting inside a tag's own text ("<b") is avoided by callers putting tags within lines.
func balancePre(parts []string) []string {
	for i := range parts {
		for _, tag := range []string{"pre", "code"} {
			open := strings.Count(parts[i], "<"+tag+">")
			closed := strings.Count(parts[i], "</"+tag+">")
			if open > closed {
				parts[i] += "</" + tag + ">"
				if i+1 < len(parts) {
					parts[i+1] = "<" + tag + ">" + parts[i+1]
				}
			}
		}
	}
	return parts
}
