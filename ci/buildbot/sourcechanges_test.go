package buildbot

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestParseChanges(t *testing.T) {
	cs, err := parseChanges(fixture(t, "changes.json"))
	if err != nil || len(cs) != 3 {
		t.Fatalf("changes: %v (%d)", err, len(cs))
	}
	if got, want := blamelist(cs), []string{"Bob <bob@example.org>", "Alice <alice@example.org>"}; !reflect.DeepEqual(got, want) {
		t.Errorf("blamelist = %q, want %q (each author once, in the master's order)", got, want)
	}
	if got, want := changeRevisions(cs), []string{"2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}; !reflect.DeepEqual(got, want) {
		t.Errorf("revisions = %q, want %q (null and repeated ones left out)", got, want)
	}
	p, err := New(Config{Name: "main", URL: "http://ci/"}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	c := p.toChange(cs[1], time.Now())
	if c.Branch != "" || c.Revision != "" || c.URL != "" || c.ID != "1" || c.Author != "Alice <alice@example.org>" {
		t.Errorf("change with nulls = %+v", c)
	}
	if c := p.toChange(cs[0], time.Now()); c.CommentsLine() != "Break the cache" || c.At.Unix() != 1764590000 {
		t.Errorf("change = %+v (first line %q)", c, c.CommentsLine())
	}
}

func TestPropertyRevisions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		props map[string]any
		want  []string
	}{
		{"none", map[string]any{}, nil},
		{"got_revision", map[string]any{"got_revision": "abc", "revision": "old"}, []string{"abc"}},
		{"revision alone", map[string]any{"revision": "def"}, []string{"def"}},
		{"null revision", map[string]any{"revision": nil}, nil},
		{"codebases in order", map[string]any{"got_revision": map[string]any{"web": "bbb", "api": "aaa", "empty": nil}}, []string{"aaa", "bbb"}},
		{"empty codebases fall back", map[string]any{"got_revision": map[string]any{"api": nil}, "revision": "r1"}, []string{"r1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := apiBuild{Properties: map[string][]json.RawMessage{}}
			for k, v := range tt.props {
				raw, _ := json.Marshal(v)
				b.Properties[k] = []json.RawMessage{raw, json.RawMessage(`"Build"`)}
			}
			if got := propertyRevisions(b); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("propertyRevisions = %q, want %q", got, tt.want)
			}
		})
	}
	// Several codebases name the build by all of them; Revision is the first, not JSON.
	raw, _ := json.Marshal(map[string]string{"web": "bbb", "api": "aaa"})
	b := toBuild("main", "http://ci/", "app", apiBuild{ID: 1, Number: 1, BuilderID: 1,
		Properties: map[string][]json.RawMessage{"got_revision": {raw, json.RawMessage(`"Git"`)}}}, time.Now())
	if b.Revision != "aaa" || !reflect.DeepEqual(b.Revisions, []string{"aaa", "bbb"}) {
		t.Errorf("toBuild: Revision %q Revisions %q", b.Revision, b.Revisions)
	}
}

func FuzzParseChanges(f *testing.F) {
	seed(f, "changes.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := parseChanges(data)
		if err != nil {
			return
		}
		blamelist(cs)
		changeRevisions(cs)
		p, _ := New(Config{Name: "main", URL: "http://ci/"}, zerolog.Nop())
		for _, c := range cs {
			p.toChange(c, time.Now())
		}
	})
}
