// Package glob is the one pattern language herald uses for builder and branch names: authz
// builder scopes, /notify builder= and branch= filters, and the store's matching of
// subscriptions. It is path.Match's syntax with one difference that matters here: builder
// and branch names often hold slashes ("release-1.0/linux", "feature/x"), and a rule on
// "release-*" is meant to cover them all, so * matches any run of characters, slashes
// included, and ? any one character.
//
//   - any run of characters, possibly empty
//     ?        any one character
//     [abc]    one of the characters; [a-z] a range; [^a-z] anything but
//     \c       the character c itself (so \* is a star)
//
// Everything else stands for itself. Matching is on whole names and on characters (runes),
// not bytes.
package glob

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrBadPattern is wrapped by every error Compile returns.
var ErrBadPattern = errors.New("glob: bad pattern")

// Error is what is wrong with a pattern. Problem is plain words for the person who wrote it
// (a config line, a /notify filter), without the pattern, so callers can say where it came
// from in their own sentence.
type Error struct {
	Pattern string
	Problem string
}

func (e *Error) Error() string { return fmt.Sprintf("glob: bad pattern %q: %s", e.Pattern, e.Problem) }

// Unwrap makes errors.Is(err, ErrBadPattern) hold.
func (e *Error) Unwrap() error { return ErrBadPattern }

// Pattern is a compiled pattern; its zero value matches only the empty name.
type Pattern struct {
	src   string
	parts []part
}

type partKind uint8

const (
	literal partKind = iota // one given character
	anyOne                  // ?
	anyRun                  // *
	class                   // [...]
)

// part is one element of a pattern. Every part but anyRun matches exactly one character,
// which is what keeps Match simple and linear in practice.
type part struct {
	kind   partKind
	lit    string    // literal: its bytes as written, so even invalid UTF-8 matches only itself
	negate bool      // class: [^...]
	ranges [][2]rune // class: inclusive ranges, a single character is lo == hi
}

// Compile checks a pattern and prepares it for matching. Its error is an *Error, saying what
// is wrong in words an admin or a chat user can act on.
func Compile(pattern string) (Pattern, error) {
	p := Pattern{src: pattern}
	for i := 0; i < len(pattern); {
		r, w := utf8.DecodeRuneInString(pattern[i:])
		switch r {
		case '*':
			// A run of stars means the same as one.
			if n := len(p.parts); n == 0 || p.parts[n-1].kind != anyRun {
				p.parts = append(p.parts, part{kind: anyRun})
			}
			i += w
		case '?':
			p.parts = append(p.parts, part{kind: anyOne})
			i += w
		case '\\':
			if i+w >= len(pattern) {
				return Pattern{}, &Error{pattern, `it ends with a lone \ (write \\ for a backslash)`}
			}
			_, ew := utf8.DecodeRuneInString(pattern[i+w:])
			p.parts = append(p.parts, part{kind: literal, lit: pattern[i+w : i+w+ew]})
			i += w + ew
		case '[':
			c, n, err := compileClass(pattern, i)
			if err != nil {
				return Pattern{}, err
			}
			p.parts = append(p.parts, c)
			i += n
		case ']':
			return Pattern{}, &Error{pattern, `a ] has no [ before it (write \] for the character)`}
		default:
			p.parts = append(p.parts, part{kind: literal, lit: pattern[i : i+w]})
			i += w
		}
	}
	return p, nil
}

// compileClass reads the class starting at pattern[start] == '[' and returns it with the
// number of bytes it took.
func compileClass(pattern string, start int) (part, int, error) {
	unclosed := &Error{pattern, "a [ is never closed with ]"}
	c := part{kind: class}
	i := start + 1
	if i < len(pattern) && pattern[i] == '^' {
		c.negate = true
		i++
	}
	// next reads one character of the class, unescaping \c.
	next := func() (rune, error) {
		if i >= len(pattern) {
			return 0, unclosed
		}
		r, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		if r != '\\' {
			return r, nil
		}
		if i >= len(pattern) {
			return 0, unclosed
		}
		r, w = utf8.DecodeRuneInString(pattern[i:])
		i += w
		return r, nil
	}
	for {
		if i >= len(pattern) {
			return part{}, 0, unclosed
		}
		if pattern[i] == ']' {
			if len(c.ranges) == 0 {
				return part{}, 0, &Error{pattern, `[] is an empty class (write \[\] for the two characters)`}
			}
			return c, i + 1 - start, nil
		}
		lo, err := next()
		if err != nil {
			return part{}, 0, err
		}
		hi := lo
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			i++
			if hi, err = next(); err != nil {
				return part{}, 0, err
			}
			if hi < lo {
				return part{}, 0, &Error{pattern, fmt.Sprintf("the range %c-%c ends before it starts", lo, hi)}
			}
		}
		c.ranges = append(c.ranges, [2]rune{lo, hi})
	}
}

// MustCompile is Compile for patterns written in the program: it panics on a bad one.
func MustCompile(pattern string) Pattern {
	p, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return p
}

// Validate reports whether pattern is well formed, with the error Compile gives.
func Validate(pattern string) error {
	_, err := Compile(pattern)
	return err
}

// Match reports whether name matches pattern. A bad pattern matches nothing: callers that
// take patterns from outside validate them when they are given (Validate).
func Match(pattern, name string) bool {
	p, err := Compile(pattern)
	if err != nil {
		return false
	}
	return p.Match(name)
}

// String is the pattern as written.
func (p Pattern) String() string { return p.src }

// Match reports whether the whole of name matches p.
func (p Pattern) Match(name string) bool {
	// Every part but * takes exactly one character, so the classic two-pointer walk is
	// exact: on a mismatch, let the last * seen take one more character and retry from
	// there. Earlier stars never need to take more, since the later one can absorb it.
	pi, ni := 0, 0 // the next part, the next byte of name
	starPart, starName := -1, 0
	for ni < len(name) || pi < len(p.parts) {
		if pi < len(p.parts) {
			pt := p.parts[pi]
			if pt.kind == anyRun {
				starPart, starName = pi, ni
				pi++
				continue
			}
			if width, ok := pt.take(name[ni:]); ok {
				pi++
				ni += width
				continue
			}
		}
		if starPart < 0 || starName >= len(name) {
			return false
		}
		_, width := utf8.DecodeRuneInString(name[starName:])
		starName += width
		pi, ni = starPart+1, starName
	}
	return true
}

// take reports whether a one-character part matches the start of rest, and how many bytes
// that character takes.
func (pt part) take(rest string) (int, bool) {
	if rest == "" {
		return 0, false
	}
	if pt.kind == literal {
		return len(pt.lit), len(rest) >= len(pt.lit) && rest[:len(pt.lit)] == pt.lit
	}
	r, width := utf8.DecodeRuneInString(rest)
	switch pt.kind {
	case anyOne:
		return width, true
	case class:
		in := false
		for _, rg := range pt.ranges {
			if rg[0] <= r && r <= rg[1] {
				in = true
				break
			}
		}
		return width, in != pt.negate
	default:
		return 0, false
	}
}

// MatchAny reports whether name matches one of patterns; no patterns means no filter, so
// everything matches. A bad pattern among them matches nothing.
func MatchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if Match(p, name) {
			return true
		}
	}
	return false
}
