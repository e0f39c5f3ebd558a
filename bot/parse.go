// Package bot is herald's Telegram transport: it takes updates in (long polling or webhook),
// stores them before acknowledging them, parses commands, hands Requests to the command
// registry, renders the Responses into the outbox, and sends the outbox within Telegram's
// limits. Nothing else in herald talks to Telegram.
package bot

import (
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"
)

// Command is a parsed "/name@bot args" message.
type Command struct {
	Name string   // lower case, without slash and bot name
	Args []string // split like a shell: quotes group words and are removed
}

// ParseCommand finds the command in a message. It uses Telegram's bot_command entity when
// there is one — its offset and length count UTF-16 code units, so text before it in any
// script works — and otherwise a leading "/". A command addressed to another bot
// ("/status@OtherBot") is not for herald: ok is false. botUsername is compared without case.
func ParseCommand(text string, entities []models.MessageEntity, botUsername string) (Command, bool) {
	start, end := -1, -1
	for _, e := range entities {
		if e.Type != models.MessageEntityTypeBotCommand {
			continue
		}
		s, en, ok := utf16Span(text, e.Offset, e.Length)
		if !ok {
			continue
		}
		start, end = s, en
		break
	}
	if start < 0 {
		trimmed := strings.TrimLeftFunc(text, unicode.IsSpace)
		if !strings.HasPrefix(trimmed, "/") {
			return Command{}, false
		}
		start = len(text) - len(trimmed)
		end = start + strings.IndexFunc(trimmed+" ", unicode.IsSpace)
	}
	word := text[start:end]
	if !strings.HasPrefix(word, "/") || len(word) < 2 {
		return Command{}, false
	}
	name, target, addressed := strings.Cut(word[1:], "@")
	if addressed && !strings.EqualFold(target, botUsername) {
		return Command{}, false
	}
	if !validName(name) {
		return Command{}, false
	}
	return Command{Name: strings.ToLower(name), Args: SplitArgs(text[end:])}, true
}

// validName: Telegram commands are 1-32 of a-z, 0-9 and _ (we accept upper case too).
func validName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// utf16Span converts an entity's UTF-16 offset and length to byte offsets in text.
func utf16Span(text string, off, length int) (start, end int, ok bool) {
	if off < 0 || length <= 0 {
		return 0, 0, false
	}
	units := 0
	start, end = -1, -1
	for i, r := range text {
		if units == off {
			start = i
		}
		if units == off+length {
			end = i
			break
		}
		units += len(utf16.Encode([]rune{r}))
	}
	if start < 0 && units == off {
		start = len(text)
	}
	if end < 0 && units == off+length {
		end = len(text)
	}
	if start < 0 || end < 0 || end <= start {
		return 0, 0, false
	}
	return start, end, true
}

// SplitArgs splits s into words like a shell: "double" and 'single' quotes group words, and
// the curly quotes phones substitute (“ ” ‘ ’) count as quotes too. An unclosed quote runs
// to the end.
func SplitArgs(s string) []string {
	var (
		args  []string
		cur   strings.Builder
		quote rune
		inArg bool
	)
	closing := map[rune]rune{'"': '"', '\'': '\'', '“': '”', '”': '”', '‘': '’', '„': '“'}
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote || (quote == '”' && r == '“') {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case closing[r] != 0:
			quote = closing[r]
			inArg = true
		case unicode.IsSpace(r):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}
