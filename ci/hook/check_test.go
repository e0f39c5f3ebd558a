package hook

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci"
)

func checkHook(t *testing.T) *Hook {
	return compile(t, Config{Name: "monitor", Kind: KindCheck, Check: "{{.service}}", Status: "{{.status}}", Text: "{{.message}}"})
}

func TestCheckEvent(t *testing.T) {
	h := checkHook(t)
	tests := []struct {
		status string
		want   ci.Result
	}{
		{"ok", ci.ResultSuccess}, {"OK", ci.ResultSuccess}, {"warning", ci.ResultWarnings},
		{"critical", ci.ResultFailure}, {"unknown", ci.ResultException},
		{"success", ci.ResultSuccess}, {"failure", ci.ResultFailure}, {"cancelled", ci.ResultCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			ev, err := h.CheckEvent(map[string]any{"service": "db-backup", "status": tt.status, "message": "disk\x00 full"}, "", fixedNow)
			if err != nil {
				t.Fatal(err)
			}
			b := ev.Build
			if ev.Conn != "monitor" || ev.Kind != ci.KindFinished || b.Builder != "db-backup" || b.Result != tt.want ||
				!b.Complete || b.StateText != "disk full" || !b.FinishedAt.Equal(fixedNow) || b.ID == "" {
				t.Errorf("event = %+v, build %+v", ev, b)
			}
		})
	}
}

func TestCheckEventErrors(t *testing.T) {
	h := checkHook(t)
	tests := []struct {
		name string
		data any
		want string
	}{
		{"unknown status", map[string]any{"service": "x", "status": "down"}, `status: "down" is not one of ok, warning, critical, unknown`},
		{"no check", map[string]any{"status": "ok"}, "check: rendered nothing"},
		{"not an object", []any{"x"}, "check, line 1, column 2: at <.service>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.CheckEvent(tt.data, "", fixedNow)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A keyed result is the same build however often it comes; unkeyed ones are all new.
func TestCheckEventIDs(t *testing.T) {
	h := checkHook(t)
	data := map[string]any{"service": "db", "status": "ok"}
	a, _ := h.CheckEvent(data, "k1", fixedNow)
	b, _ := h.CheckEvent(data, "k1", fixedNow.Add(1))
	c, _ := h.CheckEvent(data, "k2", fixedNow)
	if a.Key() != b.Key() || a.Key() == c.Key() {
		t.Errorf("keys: %s %s %s", a.Key(), b.Key(), c.Key())
	}
	d, _ := h.CheckEvent(data, "", fixedNow)
	e, _ := h.CheckEvent(data, "", fixedNow)
	if d.Key() == e.Key() {
		t.Errorf("two unkeyed results share key %s", d.Key())
	}
}

// The check provider parses its results on the CI webhook route too (header secrets only),
// keyed by Idempotency-Key so a redelivery is recognised.
func TestCheckParseWebhook(t *testing.T) {
	c := NewCheck(checkHook(t))
	body := []byte(`{"service":"db","status":"warning"}`)
	h := http.Header{}
	if _, err := c.ParseWebhook(h, body); !errors.Is(err, ci.ErrBadSignature) {
		t.Fatalf("unsigned: %v, want ErrBadSignature", err)
	}
	h.Set("X-Signature-256", "sha256="+sign("s3cret-s3cret", body))
	h.Set("Idempotency-Key", "r-1")
	d, err := c.ParseWebhook(h, body)
	if err != nil || d.ID != "r-1" || len(d.Events) != 1 || d.Events[0].Build.Result != ci.ResultWarnings {
		t.Fatalf("ParseWebhook = %+v, %v", d, err)
	}
	if _, err := c.ParseWebhook(h, []byte("{")); !errors.Is(err, ci.ErrBadSignature) {
		t.Errorf("another body under the same signature: %v, want ErrBadSignature", err)
	}
	h.Set("X-Signature-256", sign("s3cret-s3cret", []byte("{")))
	if _, err := c.ParseWebhook(h, []byte("{")); !errors.Is(err, ErrNotJSON) {
		t.Errorf("signed bad JSON: %v, want ErrNotJSON", err)
	}
}
