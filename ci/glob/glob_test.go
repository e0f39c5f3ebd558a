package glob_test

import (
	"errors"
	"fmt"
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
	tests := []struct{ pattern, problem string }{
		{"[", "a [ is never closed with ]"},
		{"docs-[a", "a [ is never closed with ]"},
		{"[a\\", "a [ is never closed with ]"},
		{"[]", `[] is an empty class (write \[\] for the two characters)`},
		{"a]", `a ] has no [ before it (write \] for the character)`},
		{"ab\\", `it ends with a lone \ (write \\ for a backslash)`},
		{"[z-a]", "the range z-a ends before it starts"},
	}
	for _, tt := range tests {
		err := glob.Validate(tt.pattern)
		var ge *glob.Error
		if !errors.As(err, &ge) || ge.Problem != tt.problem || ge.Pattern != tt.pattern || !errors.Is(err, glob.ErrBadPattern) {
			t.Errorf("Validate(%q) = %v, want problem %q", tt.pattern, err, tt.problem)
			continue
		}
		if want := fmt.Sprintf("glob: bad pattern %q: %s", tt.pattern, tt.problem); err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
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
