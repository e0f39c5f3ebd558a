package commands

import "strings"

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes s safe inside Telegram HTML. Telegram needs only &, < and > escaped (quotes
// too inside attribute values, which EscapeAttr handles).
func Escape(s string) string { return htmlEscaper.Replace(s) }

var attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// EscapeAttr makes s safe inside a double-quoted HTML attribute, such as a link's href.
func EscapeAttr(s string) string { return attrEscaper.Replace(s) }
