package github_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/herald-ci/herald/ci"
)

// FuzzParseWebhook signs whatever body it is given, so the fuzzer gets past the signature
// to the payload: what anyone holding the secret could send must never panic, and what
// parses must come out cleaned.
func FuzzParseWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("workflow_run", b, true)
	}
	f.Add("ping", []byte(`{"zen": "x"}`), true)
	f.Add("workflow_job", []byte(`{}`), true)
	f.Add("workflow_run", []byte(`{"action": "completed"}`), false)
	p := newParser("acme/widgets", "other/gadgets")
	f.Fuzz(func(t *testing.T, event string, body []byte, signed bool) {
		h := http.Header{}
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", event+"-id")
		if signed {
			h.Set("X-Hub-Signature-256", sign(body, testSecret))
		} else {
			h.Set("X-Hub-Signature-256", "sha256="+string(body))
		}
		d, err := p.ParseWebhook(h, body)
		if !signed {
			if !errors.Is(err, ci.ErrBadSignature) {
				t.Fatalf("unsigned body: error %v, want a bad signature", err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, ci.ErrBadSignature) {
				t.Fatalf("signed body refused: %v", err)
			}
			return
		}
		if d.ID != ci.CleanText(d.ID) {
			t.Errorf("delivery id %q not cleaned", d.ID)
		}
		if len(d.Events) != 1 {
			t.Fatalf("%d events, want 1", len(d.Events))
		}
		ev := d.Events[0]
		if ev.Build == nil || ev.At.IsZero() {
			t.Fatalf("event without a build or a time: %+v", ev)
		}
		b := *ev.Build
		if clean := ci.CleanBuild(b, testNow); !reflect.DeepEqual(clean, b) {
			t.Errorf("build not cleaned:\n got %+v\nwant %+v", b, clean)
		}
		if b.ID == "" || b.Builder == "" || b.Number == 0 {
			t.Errorf("build without id, builder or number: %+v", b)
		}
		if ev.Kind == ci.KindFinished && !b.Result.Valid() {
			t.Errorf("finished build with result %q", b.Result)
		}
	})
}
