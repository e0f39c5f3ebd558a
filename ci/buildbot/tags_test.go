package buildbot

import (
	"testing"

	"github.com/rs/zerolog"
)

func TestVisibleByTags(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cfg, tags []string
		wantShown bool
	}{
		{"no tags configured shows all", nil, nil, true},
		{"untagged builder hidden", []string{"core"}, nil, false},
		{"any tag is enough", []string{"core", "docs"}, []string{"x", "docs"}, true},
		{"other tags hidden", []string{"core"}, []string{"docs"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Config{Name: "main", URL: "http://ci/", Tags: tt.cfg}, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			if got := p.visible(tt.tags); got != tt.wantShown {
				t.Errorf("visible(%q) with tags %q = %v", tt.tags, tt.cfg, got)
			}
		})
	}
}

func TestSectionTags(t *testing.T) {
	s := Section{URL: "http://ci/", Tags: []string{"core", " "}}
	ps := s.Validate()
	if len(ps) != 1 || ps[0].Key != "tags" {
		t.Errorf("problems = %+v, want one about tags", ps)
	}
	s.Tags = []string{"core"}
	if ps := s.Validate(); len(ps) != 0 {
		t.Errorf("problems = %+v", ps)
	}
	if c := s.Config("main"); len(c.Tags) != 1 || c.Tags[0] != "core" {
		t.Errorf("Config.Tags = %q", c.Tags)
	}
}
