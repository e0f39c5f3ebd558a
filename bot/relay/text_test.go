package relay

import (
	"strings"
	"testing"
)

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, mode, text, want, err string
	}{
		{"none", "", "a <b> & *c*", "a <b> & *c*", ""},
		{"html", modeHTML, `<b>bold</b> <a href="https://x.example/?a=1&amp;b=2">link</a> &lt;3 &#128512; &#x41; &nope; a & b`, "bold link <3 😀 A &nope; a & b", ""},
		{"html spoiler", modeHTML, `<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>`, "st", ""},
		{"html nested", modeHTML, "<b><i>x</i></b><pre><code class=\"language-go\">y</code></pre>", "xy", ""},
		{"html upper case", modeHTML, "<B>x</B>", "x", ""},
		{"html unsupported", modeHTML, "a<div>b</div>", "", `can't parse entities: Unsupported start tag "div" at byte offset 1`},
		{"html unclosed", modeHTML, "<b>x", "", `can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"html crossed", modeHTML, "<b><i>x</b></i>", "", `can't parse entities: Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{"html stray end", modeHTML, "x</b>", "", "can't parse entities: Unexpected end tag at byte offset 1"},
		{"html lone <", modeHTML, "1 < 2", "", "can't parse entities: Unclosed start tag at byte offset 2"},
		{"html empty tag", modeHTML, "a <> b", "", "can't parse entities: Unclosed start tag at byte offset 2"},
		{"html span", modeHTML, "<span>x</span>", "", `can't parse entities: Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{"v2", modeMarkdownV2, `*bold* _it_ __u__ ~s~ ||sp|| ` + "`c\\`d`" + ` [link](https://x.example/a\)b) 1\.2\!`, "bold it u s sp c`d link 1.2!", ""},
		{"v2 pre", modeMarkdownV2, "```go\nfmt.Println(1)\n```", "fmt.Println(1)\n", ""},
		{"v2 quote", modeMarkdownV2, ">quoted\n**>expandable||", "quoted\nexpandable", ""},
		{"v2 emoji", modeMarkdownV2, "![👍](tg://emoji?id=5368324170671202286)", "👍", ""},
		{"v2 reserved", modeMarkdownV2, "see http://x.example", "", `can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'`},
		{"v2 unclosed bold", modeMarkdownV2, "*bold", "", "can't parse entities: Can't find end of Bold entity"},
		{"v2 unclosed code", modeMarkdownV2, "`code", "", "can't parse entities: Can't find end of Code entity at byte offset 0"},
		{"v2 dangling escape", modeMarkdownV2, `a\`, "", `can't parse entities: Character '\' is reserved and must be escaped with the preceding '\'`},
		{"v2 lone bracket", modeMarkdownV2, "a]", "", `can't parse entities: Character ']' is reserved and must be escaped with the preceding '\'`},
		{"markdown", modeMarkdown, "*b* _i_ `c` ```p``` [t](https://x.example) 1.2 \\*", "b i c p t 1.2 *", ""},
		{"markdown unclosed", modeMarkdown, "a *b", "", "can't parse entities: Can't find end of the entity starting at byte offset 2"},
		{"not utf-8", modeHTML, "a\xffb", "", "strings must be encoded in UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := plainText(tt.text, tt.mode)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("plainText(%q) error = %v, want %q", tt.text, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("plainText(%q) = %q, %v; want %q", tt.text, got, err, tt.want)
			}
		})
	}
}

func TestCanonicalMode(t *testing.T) {
	for in, want := range map[string]string{"": "", "html": "HTML", "HTML": "HTML", "markdownV2": "MarkdownV2", " Markdown ": "Markdown"} {
		if got, ok := canonicalMode(in); !ok || got != want {
			t.Errorf("canonicalMode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := canonicalMode("markdownv3"); ok {
		t.Error("markdownv3 accepted")
	}
}

// FuzzPlainText: no text crashes a parser, and what one accepts is never longer than the text.
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"<b>x</b>", "*a* _b_ `c` [d](e)", "&#128512;", "```go\nx```", "||s||", ">q", `\.`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, mode := range []string{"", modeHTML, modeMarkdownV2, modeMarkdown} {
			plain, err := plainText(s, mode)
			if err == nil && len(plain) > len(s)+3*strings.Count(s, "&#") {
				t.Errorf("%s: plain text %q longer than %q", mode, plain, s)
			}
		}
	})
}
