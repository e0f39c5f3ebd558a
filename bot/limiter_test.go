package bot

import (
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
)

func snd(chat int64, at time.Time) store.Send { return store.Send{ChatID: chat, At: at} }

// TestLimiterSeed checks that a limiter started with what a previous process sent holds back
// exactly as long as Telegram still counts those sends.
func TestLimiterSeed(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return t0.Add(-d) }
	burst := func(chat int64, n int, from time.Time, step time.Duration) []store.Send {
		var out []store.Send
		for i := range n {
			out = append(out, snd(chat, from.Add(time.Duration(i)*step)))
		}
		return out
	}
	tests := []struct {
		name       string
		sends      []store.Send
		held       []int64
		inflight   int
		chat       int64
		wantChat   time.Time // chatNext(chat, t0) for a reply
		wantGlobal time.Time // globalNext(t0)
	}{
		{name: "nothing before", chat: 1, wantChat: t0, wantGlobal: t0},
		{name: "a private chat sent to half a second ago", sends: []store.Send{snd(1, ago(500*time.Millisecond))},
			chat: 1, wantChat: t0.Add(500 * time.Millisecond), wantGlobal: t0},
		{name: "sends older than the window do not count", sends: []store.Send{snd(1, ago(2*time.Second)), snd(-5, ago(61*time.Second))},
			chat: 1, wantChat: t0, wantGlobal: t0},
		{name: "another chat's send does not hold this one", sends: []store.Send{snd(2, ago(100*time.Millisecond))},
			chat: 1, wantChat: t0, wantGlobal: t0},
		{name: "a group at 20 in the last minute waits for the oldest to leave",
			sends: burst(-5, 20, ago(50*time.Second), 2*time.Second),
			chat:  -5, wantChat: t0.Add(10 * time.Second), wantGlobal: t0},
		{name: "a group at 19 may send once the second has passed",
			sends: burst(-5, 19, ago(50*time.Second), 2*time.Second),
			chat:  -5, wantChat: t0, wantGlobal: t0},
		{name: "30 sends in the last second fill the global window",
			sends: burst(100, 30, ago(900*time.Millisecond), 10*time.Millisecond),
			chat:  1, wantChat: t0, wantGlobal: t0.Add(100 * time.Millisecond)},
		{name: "a held chat may have had a send in flight: counted as now",
			held: []int64{1, 2}, inflight: 8, chat: 1, wantChat: t0.Add(time.Second), wantGlobal: t0},
		{name: "held chats fill the global window only up to the sends in flight",
			sends: burst(100, 29, ago(900*time.Millisecond), 10*time.Millisecond),
			held:  []int64{1, 2, 3}, inflight: 1, chat: 3, wantChat: t0.Add(time.Second), wantGlobal: t0.Add(100 * time.Millisecond)},
		{name: "a send stamped in the future (clock stepped back) counts as now",
			sends: []store.Send{snd(1, t0.Add(time.Hour))}, chat: 1, wantChat: t0.Add(time.Second), wantGlobal: t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(30, 1, 20)
			l.seed(tt.sends, tt.held, tt.inflight, t0)
			if got := l.chatNext(tt.chat, t0, true); !got.Equal(tt.wantChat) {
				t.Errorf("chatNext = %v, want %v", got.Sub(t0), tt.wantChat.Sub(t0))
			}
			if got := l.globalNext(t0, true); !got.Equal(tt.wantGlobal) {
				t.Errorf("globalNext = %v, want %v", got.Sub(t0), tt.wantGlobal.Sub(t0))
			}
		})
	}
}

// TestLimiterSweep checks that chats whose windows are over are forgotten, unless they still
// have messages queued, and that a busy window is never dropped.
func TestLimiterSweep(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(30, 1, 20)
	l.seed([]store.Send{snd(1, t0), snd(2, t0), snd(-3, t0), snd(-4, t0.Add(30*time.Second))}, nil, 0, t0.Add(30*time.Second))
	l.sweep(t0.Add(61*time.Second), func(id int64) bool { return id == 2 })
	for id, want := range map[int64]bool{1: false, 2: true, -3: false, -4: true} {
		_, inChat := l.perChat[id]
		_, inGroup := l.perGroup[id]
		if got := inChat || inGroup; got != want {
			t.Errorf("chat %d remembered = %v, want %v", id, got, want)
		}
	}
	if _, ok := l.perGroup[-4]; !ok {
		t.Error("group -4 sent to 31 s ago was forgotten while its minute still counts")
	}
}

// Notifications leave part of the global window to replies: with 29 sends in the last second
// a notification waits, a reply goes at once; at 30 both wait.
func TestGlobalReserveForReplies(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(30, 1, 20)
	for i := range 29 {
		l.global.record(t0.Add(time.Duration(i) * time.Millisecond))
	}
	now := t0.Add(100 * time.Millisecond)
	if got := l.globalNext(now, false); !got.After(now) {
		t.Errorf("a notification after 29 sends in the window may go at %v; want it to wait", got.Sub(t0))
	}
	if got := l.globalNext(now, true); !got.Equal(now) {
		t.Errorf("a reply after 29 sends in the window may go at %v; want now", got.Sub(t0))
	}
	l.global.record(now)
	if got := l.globalNext(now, true); !got.After(now) {
		t.Errorf("a reply with the window full may go at %v; want it to wait", got.Sub(t0))
	}
	if r := replyReserve(1); r != 0 {
		t.Errorf("replyReserve(1) = %d; a window of one send keeps nothing back", r)
	}
}

// In a group, notifications leave two of the minute's 20 sends to replies: after 18
// notifications in the last minute the next notification waits for the oldest to leave the
// window, a reply goes as soon as the chat's second is over; at 20 both wait.
func TestGroupReserveForReplies(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(30, 1, 20)
	for i := range 18 {
		l.seed([]store.Send{snd(-7, t0.Add(time.Duration(i)*time.Second))}, nil, 0, t0.Add(time.Minute))
	}
	now := t0.Add(30 * time.Second) // the chat's second is long over
	if got := l.chatNext(-7, now, false); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("a notification after 18 in the minute may go at %v; want at 1m0s (the oldest send leaves)", got.Sub(t0))
	}
	if got := l.chatNext(-7, now, true); !got.Equal(now) {
		t.Errorf("a reply after 18 in the minute may go at %v; want now (%v)", got.Sub(t0), now.Sub(t0))
	}
	l.seed([]store.Send{snd(-7, t0.Add(20*time.Second)), snd(-7, t0.Add(21*time.Second))}, nil, 0, now)
	if got := l.chatNext(-7, now, true); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("a reply with the group's minute full may go at %v; want at 1m0s", got.Sub(t0))
	}
	if got := l.chatNext(7, now, false); !got.Equal(now) {
		t.Errorf("a private chat may go at %v; want now: the group limit is not its", got.Sub(t0))
	}
	for limit, want := range map[int]int{20: 2, 5: 1, 1: 0} {
		if got := groupReplyReserve(limit); got != want {
			t.Errorf("groupReplyReserve(%d) = %d; want %d", limit, got, want)
		}
	}
}
