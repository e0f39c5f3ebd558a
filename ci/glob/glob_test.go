package glob_test

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci/glob"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		// Issue 8, item 10: * goes across slashes.
		{"release-*", "release-1.0/linux", true},
		{"docs-*", "docs-x/arm", true},
		{"docs-*", "docs-x", true},
		{"docs-*", "docs-", true},
		{"docs-*", "www/docs-x", false},
		{"*/linux", "release-1.0/linux", true},
		{"*/linux", "release/1.0/linux", true},
		{"*/linux", "linux", false},
		{"*", "", true},
		{"*", "a/b/c", true},
		{"a*b*c", "a/x/b/y/c", true},
		{"a*b*c", "abcb", false},
		{"a*b", "aXbXb", true},
		{"*x", "xxxy", false},
		{"release-?.0/*", "release-1.0/linux", true},
		{"a?c", "a/c", true},
		{"a?c", "ac", false},
		{"a?c", "aéc", true}, // one character, two bytes
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[^a-c]x", "dx", true},
		{"[^a-c]x", "ax", false},
		{"[abc-]", "-", true},
		{"[\\]]", "]", true},
		{"\\*", "*", true},
		{"\\*", "x", false},
		{"main", "main", true},
		{"main", "main2", false},
		{"main", "mai", false},
		{"", "", true},
		{"", "x", false},
		{"feature/*", "feature/x/y", true},
	}
	for _, tt := range tests {
		if got := glob.Match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ pattern, msg string }{
		{"[", `glob: bad pattern: "[" has a [ that is never closed with ]`},
		{"docs-[a", `glob: bad pattern: "docs-[a" has a [ that is never closed with ]`},
		{"[]", `glob: bad pattern: "[]" has an empty class [] (write \[\] for the characters)`},
		{"a]", `glob: bad pattern: "a]" has a ] without its [ (write \] for the character)`},
		{"ab\\", `glob: bad pattern: "ab\\" ends with a lone \ (write \\ for a backslash)`},
		{"[z-a]", `glob: bad pattern: "[z-a]" has the range z-a, whose end comes before its start`},
	}
	for _, tt := range tests {
		err := glob.Validate(tt.pattern)
		if err == nil || err.Error() != tt.msg || !errors.Is(err, glob.ErrBadPattern) {
			t.Errorf("Validate(%q) = %v, want %q", tt.pattern, err, tt.msg)
		}
		if glob.Match(tt.pattern, tt.pattern) {
			t.Errorf("bad pattern %q matched", tt.pattern)
		}
	}
}

func TestMatchAny(t *testing.T) {
	if !glob.MatchAny(nil, "x") {
		t.Error("no patterns is no filter")
	}
	if !glob.MatchAny([]string{"www", "docs-*"}, "docs-x/arm") {
		t.Error("docs-* misses docs-x/arm")
	}
	if glob.MatchAny([]string{"www", "["}, "docs") {
		t.Error("matched nothing it should")
	}
}

// FuzzMatch checks the matcher against path.Match where the two agree by design: names
// without a slash, patterns both accept.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"docs-*", "docs-x"}, {"a*b?c", "aXXbYc"}, {"[a-z]*", "q"}, {"\\*x", "*x"}, {"*a*a*a*", "aaaaaa"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := glob.Compile(pattern)
		if err != nil {
			if !errors.Is(err, glob.ErrBadPattern) {
				t.Fatalf("%q: error does not wrap ErrBadPattern: %v", pattern, err)
			}
			return
		}
		got := p.Match(name)
		if strings.Contains(name, "/") || !utf8.ValidString(name) || !utf8.ValidString(pattern) {
			return
		}
		want, perr := path.Match(pattern, name)
		if perr == nil && got != want {
			t.Fatalf("Match(%q, %q) = %v, path.Match says %v", pattern, name, got, want)
		}
	})
}
