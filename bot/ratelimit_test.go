package bot

import (
	"strings"
	"testing"
	"time"
)

// TestCommandLimiter: a person's burst, then "slow down" once and silence while over; the
// chat's own limit across people; a private chat is one bucket; time refills; a negative
// burst turns a limit off.
func TestCommandLimiter(t *testing.T) {
	clock := &settableClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := newCommandLimiter(RateLimit{Burst: 2, Every: 10 * time.Second}, RateLimit{Burst: 3, Every: 10 * time.Second}, clock.Now)
	const grp = -100
	steps := []struct {
		sender, chat int64
		drop         bool
		tell         string // a prefix; "" means silent
	}{
		{1, grp, false, ""},
		{1, grp, false, ""},
		{1, grp, true, "Slow down: at most 2 commands at once, then one every 10s, for each person. I am ignoring your commands for 10s."},
		{1, grp, true, ""}, // told once
		{2, grp, false, ""},
		{3, grp, true, "Slow down: at most 3 commands at once, then one every 10s, in this chat. I am ignoring commands here for 10s."},
		{3, grp, true, ""},
		{3, 3, false, ""}, // private: the person's own bucket only, still full
		{3, 3, false, ""},
		{3, 3, true, "Slow down: at most 2 commands at once, then one every 10s, for each person."},
	}
	for i, s := range steps {
		v := l.allow(s.sender, s.chat)
		if v.drop != s.drop || (s.tell == "") != (v.tell == "") || !strings.HasPrefix(v.tell, s.tell) {
			t.Fatalf("step %d (%d in %d): %+v; want drop %v tell %q", i, s.sender, s.chat, v, s.drop, s.tell)
		}
	}
	clock.Advance(10 * time.Second)
	if v := l.allow(1, grp); v.drop {
		t.Fatalf("after 10s: %+v; want a refilled token", v)
	}
	if v := l.allow(1, grp); !v.drop || v.tell == "" {
		t.Fatalf("over again after a command ran: %+v; want told again", v)
	}

	off := newCommandLimiter(RateLimit{Burst: -1}, RateLimit{Burst: -1}, clock.Now)
	for i := range 1000 {
		if v := off.allow(1, grp); v.drop {
			t.Fatalf("limit off, command %d dropped", i)
		}
	}
}
