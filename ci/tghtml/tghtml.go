// Package tghtml is Telegram's HTML as herald writes it: the one escaper, the length Telegram
// counts (UTF-16 code units of the text once tags are dropped and each entity is one
// character), and a cut that keeps the text parsing. Everything that writes a message — the
// chat replies (commands), the notifications (bot), the hooks (ci/hook), the relay — uses it,
// so a message is never counted or escaped two ways. It is pure, so ci may use it.
package tghtml

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxMessage is Telegram's limit on a message's text after its entities are parsed, in
// UTF-16 code units: a longer sendMessage is refused, and a refused message would never reach
// the chat however often the outbox retried it.
const MaxMessage = 4096

// Telegram needs only &, < and > escaped in text, and the double quote too inside an
// attribute's value.
var (
	htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
)

// Escape makes s safe inside Telegram HTML.
func Escape(s string) string { return htmlEscaper.Replace(s) }

// EscapeAttr makes s safe inside a double-quoted attribute (a link's href).
func EscapeAttr(s string) string { return attrEscaper.Replace(s) }

// Visible counts what Telegram counts against MaxMessage: the text once tags are dropped
// and each entity is one character, in UTF-16 units.
func Visible(s string) int {
	n := 0
	walkHTML(s, func(tok string, kind tokenKind) bool {
		switch kind {
		case tokEntity:
			n++
		case tokText:
			n += Len(tok)
		}
		return true
	})
	return n
}

// Len is the length of plain text s as Telegram counts it: UTF-16 code units.
func Len(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}

type tokenKind int

const (
	tokText   tokenKind = iota // one rune of text
	tokTag                     // <b>, </b>, <a href="…">
	tokEntity                  // &amp;
)

// walkHTML hands fn the tokens of s, one rune of text at a time, until fn returns false. A
// '<' or '&' that starts no complete tag or entity counts as text: what herald renders is
// escaped, so this is only ever a template's own literal text.
func walkHTML(s string, fn func(tok string, kind tokenKind) bool) {
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			if j := strings.IndexByte(s[i:], '>'); j > 0 {
				if !fn(s[i:i+j+1], tokTag) {
					return
				}
				i += j + 1
				continue
			}
		case '&':
			if j := strings.IndexByte(s[i:], ';'); j > 1 && j <= 10 && !strings.ContainsAny(s[i+1:i+j], " <&") {
				if !fn(s[i:i+j+1], tokEntity) {
					return
				}
				i += j + 1
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if !fn(s[i:i+size], tokText) {
			return
		}
		i += size
	}
}

// Cut returns s when Telegram takes it whole, and otherwise its beginning and "…", cut
// between characters (never inside a tag, an entity or a surrogate pair) and with every tag
// still open closed, so the cut text still parses as Telegram HTML.
func Cut(s string, limit int) string {
	if Visible(s) <= limit {
		return s
	}
	budget := limit - 1 // the "…"
	var out strings.Builder
	var open []string
	used := 0
	walkHTML(s, func(tok string, kind tokenKind) bool {
		switch kind {
		case tokTag:
			name, closing := tagName(tok)
			switch {
			case name == "":
			case closing:
				for k := len(open) - 1; k >= 0; k-- {
					if open[k] == name {
						open = open[:k]
						break
					}
				}
			case !strings.HasSuffix(tok, "/>"):
				open = append(open, name)
			}
		case tokEntity:
			if used+1 > budget {
				return false
			}
			used++
		default:
			n := Len(tok)
			if used+n > budget {
				return false
			}
			used += n
		}
		out.WriteString(tok)
		return true
	})
	out.WriteString("…")
	for k := len(open) - 1; k >= 0; k-- {
		out.WriteString("</" + open[k] + ">")
	}
	return out.String()
}

// tagName is "b" for <b>, </b> and <b class="x">, lower case.
func tagName(tag string) (name string, closing bool) {
	t := strings.TrimSuffix(strings.TrimPrefix(tag, "<"), ">")
	if rest, ok := strings.CutPrefix(t, "/"); ok {
		closing, t = true, rest
	}
	if i := strings.IndexAny(t, " \t\n/"); i >= 0 {
		t = t[:i]
	}
	return strings.ToLower(t), closing
}
