package commands

import "github.com/herald-ci/herald/ci/tghtml"

// Escape makes s safe inside Telegram HTML (tghtml.Escape, the one escaper).
func Escape(s string) string { return tghtml.Escape(s) }

// EscapeAttr makes s safe inside a double-quoted HTML attribute, such as a link's href.
func EscapeAttr(s string) string { return tghtml.EscapeAttr(s) }
