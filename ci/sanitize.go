package ci

import (
	"strings"
	"time"
	"unicode/utf8"
)

// What a CI sends is written by whoever may start a build there: a reason typed into a web
// form, a branch name, a step's text. Postgres cannot store a NUL in text or JSON, and a
// control character or broken UTF-8 garbles a chat message, so a provider passes every string
// it hands on through CleanText, and every time through PlausibleTime, when it builds a Build,
// Worker, Builder or ForceScheduler (CleanBuild and friends do it field by field).

// CleanText makes s safe to store and show: invalid UTF-8 becomes U+FFFD, and the C0 control
// characters (U+0000–U+001F) and DEL are dropped, except newline and tab.
func CleanText(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case dropped(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isClean(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			return utf8.ValidString(s[i:]) && !strings.ContainsFunc(s[i:], dropped)
		} else if dropped(rune(c)) {
			return false
		}
	}
	return true
}

func dropped(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f }

func cleanAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = CleanText(s)
	}
	return out
}

// MaxClockSkew is how far ahead of herald's clock a CI's time stamp may be and still be
// believed: a little, since two machines' clocks never agree exactly.
const MaxClockSkew = 5 * time.Minute

// earliest is the oldest time a CI is believed to report; anything before is a broken clock
// or a zero written as a number.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// PlausibleTime is t as herald uses it, given herald's clock now: a time more than
// MaxClockSkew ahead of now is now (one build from a master with a wrong clock must not move
// the catch-up cursor into the future, where it would stay and miss every later build), and a
// time before 2000 is the zero time (unknown).
func PlausibleTime(t, now time.Time) time.Time {
	switch {
	case t.IsZero():
		return t
	case t.Before(earliest):
		return time.Time{}
	case t.After(now.Add(MaxClockSkew)):
		return now
	}
	return t
}

// CleanBuild is b with every string cleaned and its times made plausible against now.
func CleanBuild(b Build, now time.Time) Build {
	for _, f := range []*string{&b.Conn, &b.ID, &b.Builder, &b.BuilderID, &b.RequestID, &b.Branch,
		&b.Revision, &b.Owner, &b.Author, &b.Reason, &b.StateText, &b.CurrentStep, &b.FailedStep, &b.URL} {
		*f = CleanText(*f)
	}
	b.Tags, b.Revisions, b.Blamelist = cleanAll(b.Tags), cleanAll(b.Revisions), cleanAll(b.Blamelist)
	b.StartedAt = PlausibleTime(b.StartedAt, now)
	b.FinishedAt = PlausibleTime(b.FinishedAt, now)
	if !b.StartedAt.IsZero() && !b.FinishedAt.IsZero() && b.FinishedAt.Before(b.StartedAt) {
		b.StartedAt = b.FinishedAt // both clamped, or a clock that went back: keep the order
	}
	return b
}

// CleanWorker is w with every string cleaned.
func CleanWorker(w Worker) Worker {
	w.Conn, w.ID, w.Name = CleanText(w.Conn), CleanText(w.ID), CleanText(w.Name)
	w.Builders = cleanAll(w.Builders)
	return w
}

// CleanBuilder is b with every string cleaned.
func CleanBuilder(b Builder) Builder {
	b.Conn, b.ID, b.Name, b.Description = CleanText(b.Conn), CleanText(b.ID), CleanText(b.Name), CleanText(b.Description)
	b.Tags = cleanAll(b.Tags)
	return b
}

// CleanForceScheduler is s with every string cleaned, its fields' too.
func CleanForceScheduler(s ForceScheduler) ForceScheduler {
	s.Conn, s.Name, s.Label = CleanText(s.Conn), CleanText(s.Name), CleanText(s.Label)
	s.Builders = cleanAll(s.Builders)
	if s.Fields != nil {
		fields := make([]ForceField, len(s.Fields))
		for i, f := range s.Fields {
			f.Name, f.Label, f.Default = CleanText(f.Name), CleanText(f.Label), CleanText(f.Default)
			f.Choices = cleanAll(f.Choices)
			fields[i] = f
		}
		s.Fields = fields
	}
	return s
}
