package hook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci/tghtml"
)

func seedFixtures(f *testing.F) {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".json") {
			raw, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	f.Add([]byte(`{"createdBy":"<a href=\"x\">","launchName":"&amp;","projectName":"😀"}`))
	f.Add([]byte(`null`))
}

// Any body either is refused or becomes a message Telegram takes: within the limit, valid
// UTF-8, and every "<" in it one of the template's own tags or a helper's link.
func FuzzMessage(f *testing.F) {
	seedFixtures(f)
	h, ps := Compile(Config{Name: "allure", Secret: "s", Template: `🧪 {{.createdBy}} <b>{{.launchName}}</b> in {{.projectName | truncate 50}}: {{link .launchUrl .launchName}} {{json .alerts}}`}, time.Now)
	if len(ps) > 0 {
		f.Fatal(ps)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data, err := Decode(body)
		if err != nil {
			return
		}
		msg, _ := h.Message(data)
		if tghtml.Visible(msg) > tghtml.MaxMessage {
			t.Fatalf("message of %d units", tghtml.Visible(msg))
		}
		if !utf8.ValidString(msg) && utf8.Valid(body) {
			t.Fatalf("message is not UTF-8: %q", msg)
		}
		rest := msg
		for _, tag := range []string{"<b>", "</b>", "<pre>", "</pre>", "</a>"} {
			rest = strings.ReplaceAll(rest, tag, "")
		}
		for i := strings.Index(rest, "<a href=\""); i >= 0; i = strings.Index(rest, "<a href=\"") {
			j := strings.Index(rest[i:], "\">")
			if j < 0 {
				t.Fatalf("unclosed link in %q", msg)
			}
			if strings.ContainsAny(rest[i+9:i+j], `<>"`) {
				t.Fatalf("link attribute not escaped in %q", msg)
			}
			rest = rest[:i] + rest[i+j+2:]
		}
		if strings.Contains(rest, "<") {
			t.Fatalf("unescaped < in %q", msg)
		}
	})
}

// Any body either is refused with a reason or becomes a finished result of a named check.
func FuzzCheck(f *testing.F) {
	seedFixtures(f)
	f.Add([]byte(`{"service":"db","status":"ok","message":"fine"}`))
	h, ps := Compile(Config{Name: "monitor", Kind: KindCheck, Secret: "s", Check: "{{.service}}", Status: "{{.status}}", Text: "{{.message}}"}, time.Now)
	if len(ps) > 0 {
		f.Fatal(ps)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		data, err := Decode(body)
		if err != nil {
			return
		}
		ev, err := h.CheckEvent(data, "", time.Now())
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a reason")
			}
			return
		}
		b := ev.Build
		if b == nil || b.Builder == "" || !b.Result.Valid() || !b.Complete || ev.Conn != "monitor" {
			t.Fatalf("event %+v", ev)
		}
	})
}
