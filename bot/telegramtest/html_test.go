package telegramtest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseHTML(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		plain    string
		entities []Entity
		err      string
	}{
		{name: "plain", in: "build 42 ok", plain: "build 42 ok"},
		{name: "bold and link", in: `<b>Build</b> <a href="https://ci/b/1?x=1&amp;y=2">#1</a>`, plain: "Build #1",
			entities: []Entity{{Type: "bold", Length: 5}, {Type: "text_link", Offset: 6, Length: 2, URL: "https://ci/b/1?x=1&y=2"}}},
		{name: "nested", in: "<b>a<i>b</i></b>", plain: "ab",
			entities: []Entity{{Type: "bold", Length: 2}, {Type: "italic", Offset: 1, Length: 1}}},
		{name: "entities decoded", in: "a &lt;b&gt; &amp; &quot;c&quot; &#33; &#x41;", plain: `a <b> & "c" ! A`},
		{name: "lone ampersand and gt kept", in: "a & b > c &unknown;", plain: "a & b > c &unknown;"},
		{name: "utf16 offsets", in: "😀<b>x</b>", plain: "😀x", entities: []Entity{{Type: "bold", Offset: 2, Length: 1}}},
		{name: "pre with language", in: `<pre><code class="language-go">x := 1</code></pre>`, plain: "x := 1",
			entities: []Entity{{Type: "pre", Length: 6, Language: "go"}}},
		{name: "spoiler span", in: `<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>`, plain: "st",
			entities: []Entity{{Type: "spoiler", Length: 1}, {Type: "spoiler", Offset: 1, Length: 1}}},
		{name: "expandable blockquote", in: "<blockquote expandable>q</blockquote>", plain: "q",
			entities: []Entity{{Type: "expandable_blockquote", Length: 1}}},
		{name: "upper-case tags", in: "<B>x</B>", plain: "x", entities: []Entity{{Type: "bold", Length: 1}}},
		{name: "single-quoted and bare attributes", in: `<a href='u'>x</a><a href=v>y</a>`, plain: "xy",
			entities: []Entity{{Type: "text_link", Length: 1, URL: "u"}, {Type: "text_link", Offset: 1, Length: 1, URL: "v"}}},
		{name: "empty entity dropped", in: "<b></b>x", plain: "x"},
		{name: "unsupported tag", in: "a<br>b", err: `Unsupported start tag "br" at byte offset 1`},
		{name: "unsupported div", in: "<div>x</div>", err: `Unsupported start tag "div" at byte offset 0`},
		{name: "lone less-than", in: "a < b", err: `Unsupported start tag "" at byte offset 2`},
		{name: "unclosed", in: "<b>x", err: `Can't find end tag corresponding to start tag "b"`},
		{name: "unexpected end", in: "x</b>", err: "Unexpected end tag at byte offset 1"},
		{name: "mismatched", in: "<b><i>x</b></i>", err: `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{name: "unclosed start tag", in: `<a href="x`, err: "Unclosed start tag at byte offset 0"},
		{name: "unclosed end tag", in: "<b>x</b", err: "Unclosed end tag at byte offset 4"},
		{name: "span without spoiler class", in: `<span class="x">y</span>`, err: `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{name: "invalid utf8", in: "a\xffb", err: "strings must be encoded in UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain, ents, err := ParseHTML(tc.in)
			if tc.err != "" {
				if err == nil || err.Error() != "can't parse entities: "+tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if plain != tc.plain {
				t.Fatalf("plain = %q, want %q", plain, tc.plain)
			}
			if len(ents) != len(tc.entities) {
				t.Fatalf("entities = %+v, want %+v", ents, tc.entities)
			}
			for i := range ents {
				if ents[i] != tc.entities[i] {
					t.Fatalf("entity %d = %+v, want %+v", i, ents[i], tc.entities[i])
				}
			}
		})
	}
}

func TestSendMessageValidation(t *testing.T) {
	long := strings.Repeat("a", 4096)
	tests := []struct {
		name   string
		params map[string]any
		desc   string // "" = accepted
	}{
		{"4096 is fine", map[string]any{"text": long}, ""},
		{"4097 is too long", map[string]any{"text": long + "a"}, "Bad Request: message is too long"},
		{"limit counts text after parsing", map[string]any{"text": "<b>" + long + "</b>", "parse_mode": "HTML"}, ""},
		{"limit counts UTF-16 units", map[string]any{"text": strings.Repeat("😀", 2049)}, "Bad Request: message is too long"},
		{"empty", map[string]any{"text": ""}, "Bad Request: message text is empty"},
		{"only markup", map[string]any{"text": "<b> </b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"},
		{"bad html", map[string]any{"text": "<b>x", "parse_mode": "HTML"},
			`Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`},
		{"html ignored without parse mode", map[string]any{"text": "<b>x"}, ""},
		{"unknown parse mode", map[string]any{"text": "x", "parse_mode": "BBCode"}, "Bad Request: unsupported parse_mode"},
		{"callback data 64 bytes", map[string]any{"text": "x", "reply_markup": kb(strings.Repeat("d", 64))}, ""},
		{"callback data 65 bytes", map[string]any{"text": "x", "reply_markup": kb(strings.Repeat("d", 65))}, "Bad Request: BUTTON_DATA_INVALID"},
		{"callback data empty", map[string]any{"text": "x", "reply_markup": kb("")}, "Bad Request: BUTTON_DATA_INVALID"},
		{"button without action", map[string]any{"text": "x", "reply_markup": `{"inline_keyboard":[[{"text":"a"}]]}`},
			"Bad Request: text buttons are unallowed in the inline keyboard"},
		{"bad markup json", map[string]any{"text": "x", "reply_markup": `{"inline_keyboard":`},
			"Bad Request: can't parse reply keyboard markup JSON object"},
		{"no chat", map[string]any{"chat_id": nil, "text": "x"}, "Bad Request: chat_id is empty"},
		{"username chat", map[string]any{"chat_id": "@nobody", "text": "x"}, "Bad Request: chat not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			params := map[string]any{"chat_id": 42}
			for k, v := range tc.params {
				if v == nil {
					delete(params, k)
					continue
				}
				params[k] = v
			}
			r := callJSON(t, s, "sendMessage", params)
			if tc.desc == "" {
				if !r.OK {
					t.Fatalf("refused: %d %s", r.Status, r.Description)
				}
				if len(s.AllSent()) != 1 {
					t.Fatal("accepted message not recorded")
				}
				return
			}
			if r.Status != 400 || r.Description != tc.desc {
				t.Fatalf("got %d %q, want 400 %q", r.Status, r.Description, tc.desc)
			}
			if len(s.AllSent()) != 0 || s.Stats().Sent != 0 {
				t.Fatal("refused message was recorded")
			}
		})
	}
}

func kb(data string) string {
	return `{"inline_keyboard":[[{"text":"b","callback_data":"` + data + `"}]]}`
}

// FuzzParseHTML: any input either parses or fails with a ParseError; a parse gives
// valid UTF-8 and entities inside the text, and escaping the plain text gives it back.
func FuzzParseHTML(f *testing.F) {
	for _, s := range []string{
		"", "plain", "<b>x</b>", `<a href="u">l</a>`, "<pre><code class=\"language-go\">x</code></pre>",
		"&lt;&amp;&#65;&#x42;", "<b><i>x</b></i>", "<span class='tg-spoiler'>s</span>", "<tg-emoji emoji-id=\"5\">e</tg-emoji>",
		"😀<u>é</u>", "<blockquote expandable>q</blockquote>", "<a href=x>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		plain, ents, err := ParseHTML(in)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if !utf8.ValidString(plain) {
			t.Fatalf("plain text not UTF-8: %q", plain)
		}
		n := utf16Len(plain)
		for _, e := range ents {
			if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > n {
				t.Fatalf("entity %+v outside text of %d units", e, n)
			}
		}
		escaped := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(plain)
		again, ents2, err := ParseHTML(escaped)
		if err != nil || again != plain || len(ents2) != 0 {
			t.Fatalf("escaped plain text %q does not round-trip: %q %v %v", escaped, again, ents2, err)
		}
	})
}

// FuzzParseParams: no body makes the request parser panic, and JSON bodies it
// accepts keep their string values exactly.
func FuzzParseParams(f *testing.F) {
	f.Add("application/json", `{"chat_id":1,"text":"x","reply_markup":{"a":1}}`)
	f.Add("application/x-www-form-urlencoded", "chat_id=1&text=%3Cb%3E")
	f.Add("multipart/form-data; boundary=xx", "--xx\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi\r\n--xx--\r\n")
	f.Add("", "a=b")
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := newFuzzRequest(ct, body)
		p, err := parseParams(r)
		if err != nil {
			return
		}
		for k := range p {
			_ = p.str(k)
			_, _ = p.int64(k)
			_ = p.bool(k)
			var v any
			_ = p.json(k, &v)
		}
	})
}
