package relay

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci/tghtml"
)

// Telegram's limits on a text after entity parsing, in UTF-16 code units.
const (
	maxTextLen    = 4096
	maxCaptionLen = 1024
)

// The parse modes the Bot API knows, spelled as it documents them.
const (
	modeHTML       = "HTML"
	modeMarkdownV2 = "MarkdownV2"
	modeMarkdown   = "Markdown"
)

// canonicalMode is the documented spelling of a parse_mode (Telegram reads it in any case),
// ok false for one Telegram does not know.
func canonicalMode(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", true
	case "html":
		return modeHTML, true
	case "markdownv2":
		return modeMarkdownV2, true
	case "markdown":
		return modeMarkdown, true
	}
	return "", false
}

// plainText is what Telegram would show of text in mode: the formatting removed, escapes and
// entities decoded. The relay checks the limits on it and refuses what Telegram would refuse,
// with Telegram's "can't parse entities" reason, before answering ok: the text itself goes to
// Telegram as the tool wrote it, in its own parse mode, so Telegram stays the one who formats.
func plainText(text, mode string) (string, error) {
	if !utf8.ValidString(text) {
		return "", fmt.Errorf("strings must be encoded in UTF-8")
	}
	switch mode {
	case modeHTML:
		return plainHTML(text)
	case modeMarkdownV2:
		return plainMarkdownV2(text)
	case modeMarkdown:
		return plainMarkdown(text)
	}
	return text, nil
}

func utf16Len(s string) int { return tghtml.Len(s) }

// parseError is Telegram's complaint about a formatted text.
func parseError(format string, args ...any) error {
	return fmt.Errorf("can't parse entities: "+format, args...)
}

// htmlTags are the tags of Telegram's HTML parse mode.
var htmlTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true,
	"a": true, "code": true, "pre": true, "blockquote": true, "tg-emoji": true,
}

func plainHTML(s string) (string, error) {
	var (
		out   strings.Builder
		stack []string
	)
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '&':
			dec, n := htmlEntity(s[i:])
			out.WriteString(dec)
			i += n
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 2 {
				return "", parseError("Unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			if closing, ok := strings.CutPrefix(tag, "/"); ok {
				name := strings.ToLower(strings.TrimSpace(closing))
				if len(stack) == 0 {
					return "", parseError("Unexpected end tag at byte offset %d", i)
				}
				if top := stack[len(stack)-1]; name != top {
					return "", parseError("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top, name)
				}
				stack = stack[:len(stack)-1]
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				name = strings.ToLower(name)
				if !htmlTags[name] {
					return "", parseError("Unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				if name == "span" && !strings.Contains(attrs, "tg-spoiler") {
					return "", parseError("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", i)
				}
				stack = append(stack, name)
			}
			i += end + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(stack) > 0 {
		return "", parseError("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1])
	}
	return out.String(), nil
}

// htmlEntity decodes the entity at the start of s (&lt; &gt; &amp; &quot; and numeric ones,
// the only ones Telegram knows) and says how many bytes it took; anything else is a lone '&',
// kept as text.
func htmlEntity(s string) (string, int) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 10 {
		return "&", 1
	}
	name := s[1:end]
	switch name {
	case "lt":
		return "<", end + 1
	case "gt":
		return ">", end + 1
	case "amp":
		return "&", end + 1
	case "quot":
		return `"`, end + 1
	}
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if hex, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
			num, base = hex, 16
		}
		if n, err := strconv.ParseUint(num, base, 32); err == nil && utf8.ValidRune(rune(n)) && n != 0 {
			return string(rune(n)), end + 1
		}
	}
	return "&", 1
}

// markdownV2Reserved must be escaped with a backslash outside code, pre and link URLs.
const markdownV2Reserved = "_*[]()~`>#+-=|{}.!"

// plainMarkdownV2 follows the Bot API's MarkdownV2 rules: entities *bold*, _italic_,
// __underline__, ~strike~, ||spoiler||, `code`, ```pre```, [text](url), ![emoji](tg://...),
// > quotes at a line start; every other reserved character escaped with '\'.
func plainMarkdownV2(s string) (string, error) {
	var (
		out  strings.Builder
		open []string // marks of the entities open now
	)
	isOpen := func(mark string) int {
		for j := len(open) - 1; j >= 0; j-- {
			if open[j] == mark {
				return j
			}
		}
		return -1
	}
	toggle := func(mark string) {
		if j := isOpen(mark); j >= 0 {
			open = open[:j]
			return
		}
		open = append(open, mark)
	}
	linkDepth, expandable := 0, false
	for i := 0; i < len(s); {
		c := s[i]
		atLineStart := i == 0 || s[i-1] == '\n'
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", parseError("Character '\\' is reserved and must be escaped with the preceding '\\'")
			}
			r, n := utf8.DecodeRuneInString(s[i+1:])
			out.WriteRune(r)
			i += 1 + n
		case strings.HasPrefix(s[i:], "```"):
			end := indexUnescaped(s[i+3:], "```")
			if end < 0 {
				return "", parseError("Can't find end of Pre entity at byte offset %d", i)
			}
			body := s[i+3 : i+3+end]
			if nl := strings.IndexByte(body, '\n'); nl >= 0 && !strings.ContainsAny(body[:nl], " \\`") {
				body = body[nl+1:] // the language line
			}
			out.WriteString(unescapeCode(body))
			i += 3 + end + 3
		case c == '`':
			end := indexUnescaped(s[i+1:], "`")
			if end < 0 {
				return "", parseError("Can't find end of Code entity at byte offset %d", i)
			}
			out.WriteString(unescapeCode(s[i+1 : i+1+end]))
			i += 1 + end + 1
		case atLineStart && strings.HasPrefix(s[i:], "**>"):
			expandable = true
			i += 3
		case expandable && strings.HasPrefix(s[i:], "||") && (i+2 == len(s) || s[i+2] == '\n'):
			expandable = false // the end of an expandable quote
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toggle("||")
			i += 2
		case strings.HasPrefix(s[i:], "__"):
			toggle("__")
			i += 2
		case c == '*' || c == '_' || c == '~':
			toggle(string(c))
			i++
		case c == '!' && strings.HasPrefix(s[i+1:], "["):
			linkDepth++
			i += 2
		case c == '[':
			linkDepth++
			i++
		case c == ']' && linkDepth > 0:
			linkDepth--
			if !strings.HasPrefix(s[i+1:], "(") {
				i++ // Telegram takes "[text]" without a URL as the text
				continue
			}
			end := indexUnescaped(s[i+2:], ")")
			if end < 0 {
				return "", parseError("Can't find end of a URL at byte offset %d", i+1)
			}
			i += 2 + end + 1
		case c == '>' && atLineStart:
			i++
		case strings.IndexByte(markdownV2Reserved, c) >= 0:
			return "", parseError("Character '%c' is reserved and must be escaped with the preceding '\\'", c)
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(open) > 0 {
		return "", parseError("Can't find end of %s entity", markName(open[len(open)-1]))
	}
	if linkDepth > 0 {
		return "", parseError("Can't find end of a text URL entity")
	}
	return out.String(), nil
}

func markName(mark string) string {
	switch mark {
	case "*":
		return "Bold"
	case "_":
		return "Italic"
	case "__":
		return "Underline"
	case "~":
		return "Strikethrough"
	default:
		return "Spoiler"
	}
}

// indexUnescaped is the index in s of the first delim not escaped with a backslash, -1 if none.
func indexUnescaped(s, delim string) int {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case strings.HasPrefix(s[i:], delim):
			return i
		}
	}
	return -1
}

// unescapeCode drops the backslashes before '`' and '\' inside code and pre.
func unescapeCode(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '`' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// plainMarkdown follows the legacy Markdown mode: *bold*, _italic_, `code`, ```pre``` and
// [text](url), each closed on the same terms; '\' escapes those marks outside entities.
func plainMarkdown(s string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("_*`[", s[i+1]) >= 0:
			out.WriteByte(s[i+1])
			i += 2
		case strings.HasPrefix(s[i:], "```"):
			end := strings.Index(s[i+3:], "```")
			if end < 0 {
				return "", parseError("Can't find end of the entity starting at byte offset %d", i)
			}
			out.WriteString(s[i+3 : i+3+end])
			i += 3 + end + 3
		case c == '*' || c == '_' || c == '`':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return "", parseError("Can't find end of the entity starting at byte offset %d", i)
			}
			out.WriteString(s[i+1 : i+1+end])
			i += 1 + end + 1
		case c == '[':
			close := strings.Index(s[i+1:], "](")
			if close < 0 {
				return "", parseError("Can't find end of the entity starting at byte offset %d", i)
			}
			end := strings.IndexByte(s[i+1+close+2:], ')')
			if end < 0 {
				return "", parseError("Can't find end of the entity starting at byte offset %d", i)
			}
			out.WriteString(s[i+1 : i+1+close])
			i += 1 + close + 2 + end + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.String(), nil
}
