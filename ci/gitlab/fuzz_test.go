package gitlab_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

// FuzzParseWebhook sends whatever body it is given with the right token, so the fuzzer
// gets past the token to the payload: what anyone holding the secret could send must never
// panic, and what parses must come out cleaned.
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
		f.Add("Pipeline Hook", b, true)
	}
	f.Add("Job Hook", []byte(`{}`), true)
	f.Add("Pipeline Hook", []byte(`{"object_kind":"pipeline"}`), false)
	f.Fuzz(func(t *testing.T, event string, body []byte, token bool) {
		// A parser per input: a parser remembers the finishes it read (runNumbers), and the
		// seeds are finishes of one pipeline at different times.
		p := newParser(func(string, int64, []int64) (int, time.Time, error) { return 3, testNow.Add(-time.Hour), nil }, "acme/app", "acme/sub/lib")
		h := http.Header{}
		h.Set("X-Gitlab-Event", event)
		h.Set("X-Gitlab-Event-UUID", event+"-id")
		if token {
			h.Set("X-Gitlab-Token", testSecret)
		} else {
			h.Set("X-Gitlab-Token", string(body))
		}
		d, err := p.ParseWebhook(h, body)
		if !token {
			if string(body) != testSecret && !errors.Is(err, ci.ErrBadSignature) {
				t.Fatalf("body without the token: error %v, want a bad signature", err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, ci.ErrBadSignature) {
				t.Fatalf("delivery with the token refused: %v", err)
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
		if b.ID == "" || b.Builder == "" || b.Number == 0 || b.Attempt != 3 {
			t.Errorf("build without id, builder, number or attempt: %+v", b)
		}
		if ev.Kind == ci.KindFinished && !b.Result.Valid() {
			t.Errorf("finished build with result %q", b.Result)
		}
		if ev.Kind == ci.KindStarted && b.Complete {
			t.Errorf("a started event of a complete build: %+v", b)
		}
	})
}
