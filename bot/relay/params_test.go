package relay

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseParams(t *testing.T) {
	req := httptest.NewRequest("POST", "/relay/x/sendMessage?chat_id=1&text=from+query&parse_mode=HTML",
		strings.NewReader(`{"chat_id": 2, "text": "from body", "reply_markup": {"inline_keyboard": []}, "disable_notification": true, "caption": null}`))
	req.Header.Set("Content-Type", "application/json")
	p, err := parseParams(req, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"chat_id": "2", "text": "from body", "parse_mode": "HTML",
		"reply_markup": `{"inline_keyboard": []}`, "disable_notification": "true"}
	if len(p.values) != len(want) {
		t.Errorf("values = %q, want %q", p.values, want)
	}
	for k, v := range want {
		if p.values[k] != v {
			t.Errorf("%s = %q, want %q", k, p.values[k], v)
		}
	}
	if raw, ok := p.rawJSON("reply_markup", '{'); !ok || string(raw) != `{"inline_keyboard":[]}` {
		t.Errorf("reply_markup = %s, %v", raw, ok)
	}
	if _, ok := p.rawJSON("chat_id", '{'); ok {
		t.Error("a number taken for an object")
	}

	for _, tt := range []struct{ ct, body string }{
		{"application/json", `["not", "an object"]`},
		{"application/json", `{"chat_id": 1`},
		{"text/xml", `<chat_id>1</chat_id>`},
		{"multipart/form-data", "--x\r\n"},
		{"application/x-www-form-urlencoded", "a=%zz"},
		{"no/such; =", "a=1"},
	} {
		if err := (params{values: map[string]string{}, files: map[string]upload{}}).decodeBody(tt.ct, []byte(tt.body)); err == nil {
			t.Errorf("%s %q decoded", tt.ct, tt.body)
		}
	}

	big := httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("a", 101)))
	if _, err := parseParams(big, 100); err != errTooLarge {
		t.Errorf("a body over the limit: %v, want errTooLarge", err)
	}
}

// FuzzDecodeBody drives the parameter parser with any content type and body: it never
// panics, and a form or JSON body it accepts holds what the standard decoders read from it.
func FuzzDecodeBody(f *testing.F) {
	f.Add("application/json", []byte(`{"chat_id":"5023003345","text":"hi","reply_markup":{"inline_keyboard":[]},"n":null}`))
	f.Add("application/x-www-form-urlencoded", []byte("chat_id=-100123&text=a+b&parse_mode=HTML"))
	f.Add("", []byte("chat_id=1&text=x"))
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.SetBoundary("fuzzboundary")
	_ = mw.WriteField("chat_id", "1")
	w, _ := mw.CreateFormFile("photo", "a.png")
	_, _ = w.Write([]byte("\x89PNG"))
	_ = mw.Close()
	f.Add("multipart/form-data; boundary=fuzzboundary", mp.Bytes())
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		p := params{values: map[string]string{}, files: map[string]upload{}}
		err := p.decodeBody(ct, body)
		if err != nil || len(bytes.TrimSpace(body)) == 0 {
			return
		}
		switch ct {
		case "application/x-www-form-urlencoded", "":
			vals, _ := url.ParseQuery(string(body))
			for k, vs := range vals {
				if p.values[k] != vs[0] {
					t.Errorf("form field %q = %q, want %q", k, p.values[k], vs[0])
				}
			}
		case "application/json":
			var obj map[string]any
			if json.Unmarshal(body, &obj) != nil {
				t.Errorf("accepted JSON that is not an object: %q", body)
			}
			for k, v := range obj {
				if s, ok := v.(string); ok && p.values[k] != s {
					t.Errorf("JSON field %q = %q, want %q", k, p.values[k], s)
				}
			}
		}
	})
}
