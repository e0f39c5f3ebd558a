package hook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var fixedNow = time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

func compile(t *testing.T, cfg Config) *Hook {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "allure"
	}
	if cfg.Secret == "" {
		cfg.Secret = "s3cret-s3cret"
	}
	h, ps := Compile(cfg, clock)
	if len(ps) > 0 {
		t.Fatalf("Compile: %v", ps)
	}
	return h
}

func fixture(t *testing.T, name string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The README's examples, rendered against the fixtures: every value escaped, links only
// for http(s), numbers as sent.
func TestMessageExamples(t *testing.T) {
	tests := []struct {
		name, template, fixture, want string
	}{
		{
			name:     "allure launch",
			template: `🧪 {{.createdBy}} closed <b>{{.launchName}}</b> in {{.projectName}}: {{link .launchUrl "open"}} ({{ago .createdDate}}, id {{.launchId}})`,
			fixture:  "allure_launch_closed.json",
			want:     `🧪 qaqa closed <b>Nightly regression &amp; smoke</b> in Checkout &lt;web&gt;: <a href="https://allure.example.org/launch/1741270605123">open</a> (634d ago, id 1741270605123)`,
		},
		{
			name:     "allure defect",
			template: `🐞 {{.createdBy}}: {{link .defectUrl .defectName}} in {{.projectName}}`,
			fixture:  "allure_defect_created.json",
			want:     `🐞 qaqa: <a href="https://allure.example.org/project/7/defects/42">Payment form &lt;script&gt; not escaped</a> in Checkout &lt;web&gt;`,
		},
		{
			name: "alertmanager",
			template: `{{if eq .status "firing"}}🔥{{else}}✅{{end}} <b>{{.groupLabels.alertname}}</b> {{.status}}
{{range .alerts}}• {{.labels.instance}}: {{.annotations.summary | truncate 20}}
{{end}}`,
			fixture: "alertmanager_firing.json",
			want:    "🔥 <b>DiskFull</b> firing\n• db-1:9100: Disk /var is 97% fu…",
		},
		{
			name:     "default, json and a missing key",
			template: `{{.nothing | default "none"}} {{json .groupLabels}} [{{.absent}}]`,
			fixture:  "alertmanager_firing.json",
			want:     `none {"alertname":"DiskFull"} []`,
		},
		{
			name:     "a javascript link is text",
			template: `{{link "javascript:alert(1)" "click"}}`,
			fixture:  "allure_defect_created.json",
			want:     `click`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := compile(t, Config{Template: tt.template})
			got, err := h.Message(fixture(t, tt.fixture))
			if err != nil {
				t.Fatalf("Message: %v", err)
			}
			if got != tt.want {
				t.Errorf("Message =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// json prints the characters as they are, escaped once for Telegram like every value.
func TestJSONHelperEscapedOnce(t *testing.T) {
	h := compile(t, Config{Template: `{{json .a}}`})
	got, err := h.Message(map[string]any{"a": map[string]any{"k": "<v&>"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"k":"&lt;v&amp;&gt;"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMessageFailingAtRunTimeIsRaw(t *testing.T) {
	h := compile(t, Config{Template: "line one\n{{.a.b.c}}"})
	got, err := h.Message(map[string]any{"a": "x<y"})
	var te *TemplateError
	if !errors.As(err, &te) || te.Field != "template" || te.Line != 2 {
		t.Fatalf("err = %v, want a template error at line 2", err)
	}
	if want := "<pre>{\n  \"a\": \"x&lt;y\"\n}</pre>"; !strings.HasSuffix(got, want) || !strings.HasPrefix(got, "⚠️ hook <b>allure</b>") {
		t.Errorf("raw message = %s", got)
	}
}

func TestCompileProblems(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // Key: Msg prefixes
	}{
		{"no secret, no template", Config{Name: "x"}, []string{"secret: secret is required", "template: template is required"}},
		{"bad name", Config{Name: "Allure!", Secret: "s", Template: "x"}, []string{"name: name must be"}},
		{"parse error at its line", Config{Name: "x", Secret: "s", Template: "a\nb {{.x"}, []string{"template: template, line 2: unclosed action"}},
		{"unknown function", Config{Name: "x", Secret: "s", Template: "{{nope .x}}"}, []string{`template: template, line 1: function "nope" not defined`}},
		{"check without status", Config{Name: "m", Kind: KindCheck, Secret: "s", Check: "{{.s}}"}, []string{"status: status is required"}},
		{"check with chats", Config{Name: "m", Kind: KindCheck, Secret: "s", Check: "{{.s}}", Status: "ok", Chats: []Target{{ChatID: 1}}}, []string{"chats: chats is for message hooks"}},
		{"message with expect_every", Config{Name: "m", Secret: "s", Template: "x", ExpectEvery: time.Minute}, []string{"expect_every: expect_every is for kind: check"}},
		{"bad kind", Config{Name: "m", Kind: "alert", Secret: "s"}, []string{"kind: kind must be message or check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := Compile(tt.cfg, clock)
			if len(ps) != len(tt.want) {
				t.Fatalf("problems = %+v, want %d", ps, len(tt.want))
			}
			for i, p := range ps {
				if got := p.Key + ": " + p.Msg; !strings.HasPrefix(got, tt.want[i]) {
					t.Errorf("problem %d = %q, want %q…", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestFilterAndDedup(t *testing.T) {
	h := compile(t, Config{Template: "x", Filter: `{{eq .event "launch_closed"}}`, Dedup: `{{.event}}/{{.launchId}}`})
	data := fixture(t, "allure_launch_closed.json")
	if ok, err := h.Filter(data); err != nil || !ok {
		t.Errorf("Filter = %v, %v; want true", ok, err)
	}
	if ok, err := h.Filter(map[string]any{"event": "launch_created"}); err != nil || ok {
		t.Errorf("Filter(launch_created) = %v, %v; want false", ok, err)
	}
	if _, err := h.Filter("not an object"); err == nil || !strings.Contains(err.Error(), "filter, line 1") {
		t.Errorf("Filter on a string = %v, want an error at filter line 1", err)
	}
	if k, err := h.DedupKey("", data); err != nil || k != "launch_closed/1741270605123" {
		t.Errorf("DedupKey = %q, %v", k, err)
	}
	if k, err := h.DedupKey(" retry-7 ", data); err != nil || k != "retry-7" {
		t.Errorf("DedupKey(Idempotency-Key) = %q, %v", k, err)
	}
}

func TestDecode(t *testing.T) {
	for _, body := range []string{"", "{", "{} {}", "nope", `{"a":1}x`} {
		if _, err := Decode([]byte(body)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("Decode(%q) = %v, want ErrNotJSON", body, err)
		}
	}
	if _, err := Decode([]byte(` {"a": [1, 2]} `)); err != nil {
		t.Errorf("Decode = %v", err)
	}
}

func TestHelpers(t *testing.T) {
	if got := truncate(3, "héllo"); got != "hé…" || utf8.RuneCountInString(got) != 3 {
		t.Errorf("truncate = %q", got)
	}
	for _, tt := range []struct {
		in   any
		want string
	}{
		{"2026-12-01T12:25:00Z", "5m ago"},
		{"2026-12-01T15:30:00Z", "in 3h"},
		{"2026-12-01T12:29:30Z", "just now"},
	} {
		if got, err := ago(tt.in, fixedNow); err != nil || got != tt.want {
			t.Errorf("ago(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ago("yesterday", fixedNow); err == nil {
		t.Error("ago(yesterday) = nil error")
	}
	if got := defaultValue("d", 0); got != 0 {
		t.Errorf("default of 0 = %v, want 0 (a value)", got)
	}
}

// A long key is never cut: two deliveries whose keys differ only past the first 200
// characters (an Alertmanager group whose newest alert comes last) are two deliveries. It is
// stored as its hash instead, which is as long as any; short keys stay as written.
func TestDedupKeyLong(t *testing.T) {
	h := compile(t, Config{Template: "x", Dedup: `{{range .alerts}}{{.fingerprint}} {{.startsAt}};{{end}}`})
	alert := func(i int) map[string]any {
		return map[string]any{"fingerprint": fmt.Sprintf("%016x", i), "startsAt": "2026-12-01T12:00:00Z"}
	}
	var six, seven []any
	for i := range 7 {
		if i < 6 {
			six = append(six, alert(i))
		}
		seven = append(seven, alert(i))
	}
	k6, err6 := h.DedupKey("", map[string]any{"alerts": six})
	k7, err7 := h.DedupKey("", map[string]any{"alerts": seven})
	if err6 != nil || err7 != nil || k6 == k7 {
		t.Errorf("keys of six and seven alerts: %q, %q (%v, %v); want two keys", k6, k7, err6, err7)
	}
	for _, k := range []string{k6, k7} {
		if len(k) > 200 {
			t.Errorf("key %q is %d bytes, want at most 200", k, len(k))
		}
	}
	long := strings.Repeat("r", 300)
	a, _ := h.DedupKey(long+"a", nil)
	b, _ := h.DedupKey(long+"b", nil)
	if a == b || len(a) > 200 {
		t.Errorf("long Idempotency-Keys: %q, %q; want two keys of at most 200 bytes", a, b)
	}
}
