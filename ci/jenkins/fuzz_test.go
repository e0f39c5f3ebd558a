package jenkins_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/herald-ci/herald/ci"
)

// FuzzParseWebhook sends whatever body it is given with the right secret, so the fuzzer
// gets past the check to the payload: what anyone holding the secret could send must never
// panic, and what parses must come out cleaned.
func FuzzParseWebhook(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "notification_*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
	}
	f.Add([]byte(`{"name":"a\u0000","url":"job/a%00/","build":{"number":1,"phase":"STARTED","timestamp":-5}}`), true)
	f.Add([]byte(`{}`), false)
	p := newParser()
	f.Fuzz(func(t *testing.T, body []byte, authentic bool) {
		pass := testSecret
		if !authentic {
			pass = string(body)
		}
		d, err := p.ParseWebhook(basic("herald", pass), body)
		if !authentic && pass != testSecret {
			if !errors.Is(err, ci.ErrBadSignature) {
				t.Fatalf("wrong secret: error %v", err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, ci.ErrBadSignature) {
				t.Fatalf("right secret refused: %v", err)
			}
			return
		}
		if len(d.Events) != 1 {
			t.Fatalf("%d events", len(d.Events))
		}
		ev := d.Events[0]
		if ev.Build == nil || ev.At.IsZero() {
			t.Fatalf("event without build or time: %+v", ev)
		}
		b := *ev.Build
		if clean := ci.CleanBuild(b, testNow); !reflect.DeepEqual(clean, b) {
			t.Errorf("build not cleaned:\n got %+v\nwant %+v", b, clean)
		}
		if b.ID == "" || b.Builder == "" || b.Number <= 0 {
			t.Errorf("build without id, builder or number: %+v", b)
		}
		if ev.Kind == ci.KindFinished && !b.Result.Valid() {
			t.Errorf("finished with result %q", b.Result)
		}
	})
}
