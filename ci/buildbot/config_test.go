package buildbot

import (
	"reflect"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

func TestSectionValidate(t *testing.T) {
	const secret = "SECRET-value"
	tests := []struct {
		name    string
		section Section
		want    []ci.ConfigProblem
	}{
		{"anonymous", Section{URL: "https://ci.example.org/"}, nil},
		{"basic", Section{URL: "http://ci:8010/", Auth: AuthSection{Type: "basic", Username: "u", Password: "p"}}, nil},
		{"bearer", Section{URL: "http://ci:8010/", Auth: AuthSection{Type: "bearer", Token: "t"}}, nil},
		{"no url", Section{}, []ci.ConfigProblem{{Key: "url", Msg: "url must be the CI's http(s) URL"}}},
		{"not http", Section{URL: "ftp://ci/"}, []ci.ConfigProblem{{Key: "url", Msg: "url must be the CI's http(s) URL"}}},
		{"credentials in the url", Section{URL: "https://herald:" + secret + "@ci/"},
			[]ci.ConfigProblem{{Key: "url", Msg: "url must not hold credentials: put them in auth"}}},
		{"basic without password", Section{URL: "http://ci/", Auth: AuthSection{Type: "basic", Username: "u"}},
			[]ci.ConfigProblem{{Key: "auth", Msg: "auth: basic needs username and password"}}},
		{"bearer without token", Section{URL: "http://ci/", Auth: AuthSection{Type: "bearer", Password: secret}},
			[]ci.ConfigProblem{{Key: "auth", Msg: "auth: bearer needs token"}}},
		{"every problem at once", Section{Auth: AuthSection{Type: secret}}, []ci.ConfigProblem{
			{Key: "url", Msg: "url must be the CI's http(s) URL"},
			{Key: "auth.type", Msg: "auth.type must be none, basic or bearer"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.section.Validate(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// What passes Validate, New takes as it is.
func TestSectionConfig(t *testing.T) {
	s := Section{URL: "http://ci:8010", Auth: AuthSection{Type: "basic", Username: "u", Password: "p"}}
	p, err := New(s.Config("main"), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "main" || p.cfg.URL != "http://ci:8010/" || p.cfg.Auth != (Auth{Kind: "basic", Username: "u", Password: "p"}) {
		t.Errorf("provider config %+v", p.cfg)
	}
	if got := s.Secrets(); !reflect.DeepEqual(got, []string{"p", ""}) {
		t.Errorf("Secrets() = %q", got)
	}
}
