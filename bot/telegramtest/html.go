package telegramtest

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Entity is a formatting span of a parsed message text, as the Bot API returns it.
// Offsets and lengths count UTF-16 code units, like Telegram's.
type Entity struct {
	Type          string `json:"type"`
	Offset        int    `json:"offset"`
	Length        int    `json:"length"`
	URL           string `json:"url,omitempty"`
	Language      string `json:"language,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// htmlTags maps each start tag Telegram's HTML parse mode accepts to the entity it
// makes. Anything else is rejected the way the real API does, so a herald template
// that slips in <br> or <div> fails here before it fails in production.
var htmlTags = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"span": "spoiler", "tg-spoiler": "spoiler",
	"a":          "text_link",
	"code":       "code",
	"pre":        "pre",
	"blockquote": "blockquote",
	"tg-emoji":   "custom_emoji",
}

// ParseError is Telegram's "can't parse entities" complaint about a formatted text.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return "can't parse entities: " + e.Reason }

func parseErrorf(format string, args ...any) *ParseError {
	return &ParseError{Reason: fmt.Sprintf(format, args...)}
}

type openTag struct {
	name    string
	entity  Entity
	byteOff int
	inPre   bool // a <code> directly inside <pre>: it names the language, makes no entity
}

// ParseHTML turns a text in Telegram's HTML parse mode into plain text and entities,
// or reports the first problem with the message Telegram would give. It follows the
// Bot API's documented rules: only the listed tags, balanced and properly nested;
// the named entities &lt; &gt; &amp; &quot; and numeric ones are decoded; a lone '&'
// or '>' is kept as text, a lone '<' is an error.
func ParseHTML(s string) (string, []Entity, error) {
	if !utf8.ValidString(s) {
		return "", nil, parseErrorf("strings must be encoded in UTF-8")
	}
	var (
		out      strings.Builder
		u16      int
		stack    []openTag
		entities []Entity
	)
	write := func(str string) {
		out.WriteString(str)
		for _, r := range str {
			u16 += utf16.RuneLen(r)
		}
	}
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '&' {
			if dec, n := decodeHTMLEntity(s[i:]); n > 0 {
				write(dec)
				i += n
				continue
			}
			write("&")
			i++
			continue
		}
		if c != '<' {
			j := i + 1
			for j < len(s) && s[j] != '<' && s[j] != '&' {
				j++
			}
			write(s[i:j])
			i = j
			continue
		}
		begin := i
		if i+1 < len(s) && s[i+1] == '/' {
			// An end tag.
			i += 2
			nameStart := i
			for i < len(s) && s[i] != '>' && !isHTMLSpace(s[i]) {
				i++
			}
			name := strings.ToLower(s[nameStart:i])
			for i < len(s) && isHTMLSpace(s[i]) {
				i++
			}
			if i >= len(s) || s[i] != '>' {
				return "", nil, parseErrorf("Unclosed end tag at byte offset %d", begin)
			}
			i++
			if len(stack) == 0 {
				return "", nil, parseErrorf("Unexpected end tag at byte offset %d", begin)
			}
			top := stack[len(stack)-1]
			if name != top.name {
				return "", nil, parseErrorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, name)
			}
			stack = stack[:len(stack)-1]
			if top.inPre {
				continue
			}
			ent := top.entity
			ent.Length = u16 - ent.Offset
			if ent.Length > 0 && ent.Type != "" {
				entities = append(entities, ent)
			}
			continue
		}
		// A start tag.
		i++
		nameStart := i
		for i < len(s) && isTagNameByte(s[i]) {
			i++
		}
		name := strings.ToLower(s[nameStart:i])
		if i >= len(s) {
			return "", nil, parseErrorf("Unclosed start tag at byte offset %d", begin)
		}
		typ, ok := htmlTags[name]
		if !ok {
			return "", nil, parseErrorf("Unsupported start tag \"%s\" at byte offset %d", name, begin)
		}
		attrs, next, err := parseHTMLAttrs(s, i, name, begin)
		if err != nil {
			return "", nil, err
		}
		i = next
		tag := openTag{name: name, byteOff: begin, entity: Entity{Type: typ, Offset: u16}}
		switch name {
		case "span":
			if attrs["class"] != "tg-spoiler" {
				return "", nil, parseErrorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
			}
		case "a":
			tag.entity.URL = attrs["href"]
			if tag.entity.URL == "" {
				tag.entity.Type = "" // Telegram drops a link without a target
			}
		case "tg-emoji":
			id := attrs["emoji-id"]
			if _, err := strconv.ParseInt(id, 10, 64); err != nil {
				return "", nil, parseErrorf("Invalid custom emoji identifier specified")
			}
			tag.entity.CustomEmojiID = id
		case "blockquote":
			if _, ok := attrs["expandable"]; ok {
				tag.entity.Type = "expandable_blockquote"
			}
		case "code":
			if n := len(stack); n > 0 && stack[n-1].name == "pre" && stack[n-1].entity.Offset == u16 {
				if lang, ok := strings.CutPrefix(attrs["class"], "language-"); ok {
					stack[n-1].entity.Language = lang
					tag.inPre = true
				}
			}
		}
		stack = append(stack, tag)
	}
	if len(stack) > 0 {
		return "", nil, parseErrorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].name)
	}
	sortEntities(entities)
	return out.String(), entities, nil
}

// parseHTMLAttrs reads the attributes of a start tag from s[i:] up to and including
// its '>', returning them with lower-cased names and decoded values.
func parseHTMLAttrs(s string, i int, tag string, begin int) (map[string]string, int, error) {
	attrs := map[string]string{}
	for {
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return nil, 0, parseErrorf("Unclosed start tag at byte offset %d", begin)
		}
		if s[i] == '>' {
			return attrs, i + 1, nil
		}
		nameStart := i
		for i < len(s) && isTagNameByte(s[i]) {
			i++
		}
		if i == nameStart {
			return nil, 0, parseErrorf("Empty attribute name in the tag \"%s\" at byte offset %d", tag, begin)
		}
		attr := strings.ToLower(s[nameStart:i])
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return nil, 0, parseErrorf("Unclosed start tag at byte offset %d", begin)
		}
		if s[i] != '=' {
			attrs[attr] = ""
			continue
		}
		i++
		for i < len(s) && isHTMLSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return nil, 0, parseErrorf("Unclosed start tag at byte offset %d", begin)
		}
		var raw string
		if q := s[i]; q == '"' || q == '\'' {
			end := strings.IndexByte(s[i+1:], q)
			if end < 0 {
				return nil, 0, parseErrorf("Unclosed start tag at byte offset %d", begin)
			}
			raw = s[i+1 : i+1+end]
			i += end + 2
		} else {
			start := i
			for i < len(s) && !isHTMLSpace(s[i]) && s[i] != '>' {
				i++
			}
			raw = s[start:i]
		}
		attrs[attr] = decodeAttr(raw)
	}
}

func decodeAttr(raw string) string {
	if !strings.Contains(raw, "&") {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] == '&' {
			if dec, n := decodeHTMLEntity(raw[i:]); n > 0 {
				b.WriteString(dec)
				i += n
				continue
			}
		}
		b.WriteByte(raw[i])
		i++
	}
	return b.String()
}

// decodeHTMLEntity decodes the entity at the start of s ("&amp;", "&#60;", "&#x3c;")
// and returns it with the number of bytes it took, or 0 when s does not start with
// one Telegram understands.
func decodeHTMLEntity(s string) (string, int) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 12 {
		return "", 0
	}
	body := s[1:end]
	switch body {
	case "lt":
		return "<", end + 1
	case "gt":
		return ">", end + 1
	case "amp":
		return "&", end + 1
	case "quot":
		return "\"", end + 1
	}
	if body[0] != '#' || len(body) < 2 {
		return "", 0
	}
	digits, base := body[1:], 10
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return "", 0
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || n == 0 || n > utf8.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
		return "", 0
	}
	return string(rune(n)), end + 1
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isTagNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// sortEntities orders entities by offset, outer ones first, as Telegram returns them.
func sortEntities(es []Entity) {
	slices.SortStableFunc(es, func(a, b Entity) int {
		if a.Offset != b.Offset {
			return cmp.Compare(a.Offset, b.Offset)
		}
		return cmp.Compare(b.Length, a.Length)
	})
}

// utf16Len counts UTF-16 code units, the unit Telegram measures text limits in.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
