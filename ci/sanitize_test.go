package ci

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "force build", "force build"},
		{"unicode kept", "Größe 🚀 ✓", "Größe 🚀 ✓"},
		{"newline and tab kept", "line 1\n\tline 2", "line 1\n\tline 2"},
		{"NUL dropped", "evil\x00reason", "evilreason"},
		{"only NUL", "\x00", ""},
		{"other controls dropped", "a\x01b\x1bc\rd\x7fe", "abcde"},
		{"invalid UTF-8 replaced", "bad\xffbyte", "bad\uFFFDbyte"},
		{"truncated rune replaced", "cut\xe2\x82", "cut\uFFFD\uFFFD"},
		{"mixed", "ü\x00\xfe\n", "ü\uFFFD\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CleanText(tt.in); got != tt.want {
				t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", "abc", "a\x00b", "\xff\xfe", "ü\r\n\t", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := CleanText(s)
		if !utf8.ValidString(got) {
			t.Fatalf("CleanText(%q) = %q: not UTF-8", s, got)
		}
		if strings.ContainsFunc(got, dropped) {
			t.Fatalf("CleanText(%q) = %q: holds a control character", s, got)
		}
		if CleanText(got) != got {
			t.Fatalf("CleanText is not idempotent on %q", s)
		}
	})
}

func TestCleanBuildEveryString(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	dirty := "x\x00"
	b := CleanBuild(Build{
		Conn: dirty, ID: dirty, Builder: dirty, BuilderID: dirty, RequestID: dirty, Branch: dirty,
		Revision: dirty, Owner: dirty, Author: dirty, Reason: dirty, StateText: dirty,
		CurrentStep: dirty, FailedStep: dirty, URL: dirty,
	}, now)
	for _, s := range []string{b.Conn, b.ID, b.Builder, b.BuilderID, b.RequestID, b.Branch, b.Revision,
		b.Owner, b.Author, b.Reason, b.StateText, b.CurrentStep, b.FailedStep, b.URL} {
		if s != "x" {
			t.Errorf("a field kept its NUL: %+v", b)
			break
		}
	}
	w := CleanWorker(Worker{Name: dirty, ID: dirty, Conn: dirty, Builders: []string{dirty}})
	if w.Name != "x" || w.ID != "x" || w.Conn != "x" || w.Builders[0] != "x" {
		t.Errorf("CleanWorker = %+v", w)
	}
	bl := CleanBuilder(Builder{Name: dirty, ID: dirty, Conn: dirty, Description: dirty, Tags: []string{dirty}})
	if bl.Name != "x" || bl.ID != "x" || bl.Conn != "x" || bl.Description != "x" || bl.Tags[0] != "x" {
		t.Errorf("CleanBuilder = %+v", bl)
	}
	fs := CleanForceScheduler(ForceScheduler{Name: dirty, Label: dirty, Builders: []string{dirty},
		Fields: []ForceField{{Name: "reason", Label: dirty, Default: dirty, Choices: []string{dirty}}}})
	if fs.Name != "x" || fs.Label != "x" || fs.Builders[0] != "x" || fs.Fields[0].Label != "x" ||
		fs.Fields[0].Default != "x" || fs.Fields[0].Choices[0] != "x" {
		t.Errorf("CleanForceScheduler = %+v", fs)
	}
}

func TestPlausibleTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		in, want time.Time
	}{
		{"zero stays zero", time.Time{}, time.Time{}},
		{"a past time is kept", now.Add(-48 * time.Hour), now.Add(-48 * time.Hour)},
		{"a little ahead is kept", now.Add(MaxClockSkew), now.Add(MaxClockSkew)},
		{"far ahead is now", now.Add(MaxClockSkew + time.Second), now},
		{"years ahead is now", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), now},
		{"before 2000 is unknown", time.Unix(86400, 0), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlausibleTime(tt.in, now); !got.Equal(tt.want) {
				t.Errorf("PlausibleTime(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	b := CleanBuild(Build{StartedAt: now.Add(time.Hour), FinishedAt: now.Add(2 * time.Hour)}, now)
	if !b.StartedAt.Equal(now) || !b.FinishedAt.Equal(now) {
		t.Errorf("future build times = %v – %v, want both %v", b.StartedAt, b.FinishedAt, now)
	}
	b = CleanBuild(Build{StartedAt: now.Add(time.Hour), FinishedAt: now.Add(-time.Minute)}, now)
	if b.FinishedAt.Before(b.StartedAt) {
		t.Errorf("clamping put the start %v after the finish %v", b.StartedAt, b.FinishedAt)
	}
}
