package tghtml

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	if got := Escape(`<a href="x">&</a>`); got != `&lt;a href="x"&gt;&amp;&lt;/a&gt;` {
		t.Errorf("Escape = %q", got)
	}
	if got := EscapeAttr(`"x"&<`); got != `&quot;x&quot;&amp;&lt;` {
		t.Errorf("EscapeAttr = %q", got)
	}
}

func TestLen(t *testing.T) {
	tests := []struct {
		in           string
		len, visible int
	}{
		{"abc", 3, 3},
		{"a😀", 3, 3},       // outside the BMP: a surrogate pair
		{"<b>é</b>", 8, 1}, // tags are not counted once parsed
		{"&amp;&lt;", 9, 2},
	}
	for _, tt := range tests {
		if got := Len(tt.in); got != tt.len {
			t.Errorf("Len(%q) = %d, want %d", tt.in, got, tt.len)
		}
		if got := Visible(tt.in); got != tt.visible {
			t.Errorf("Visible(%q) = %d, want %d", tt.in, got, tt.visible)
		}
	}
}

func TestCut(t *testing.T) {
	long := strings.Repeat("a", 5000)
	tests := []struct {
		name, in string
		limit    int
		want     string
	}{
		{"short stays", "<b>x</b> &amp; y", 10, "<b>x</b> &amp; y"},
		{"closes open tags", "<b><i>abcdef</i></b>", 4, "<b><i>abc…</i></b>"},
		{"never inside an entity", "ab&amp;cd", 3, "ab…"},
		{"entity counts one", "a&amp;bcd", 4, "a&amp;b…"},
		{"surrogate pair whole", "a😀b", 3, "a…"},
		{"link closed", `<a href="https://x">abcdef</a>`, 3, `<a href="https://x">ab…</a>`},
		{"limit", long, MaxMessage, strings.Repeat("a", MaxMessage-1) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cut(tt.in, tt.limit); got != tt.want {
				t.Errorf("Cut = %q, want %q", got, tt.want)
			}
		})
	}
}
