package bot

import (
	"math"
	"time"

	"github.com/herald-ci/herald/store"
)

// never is a ready time meaning "not until something in flight completes".
var never = time.Unix(1<<62, 0)

// slidingLog enforces "at most limit sends in any span", the way Telegram (and the fake Bot
// API) count: a sliding window keyed by when a request arrives. The sender cannot know that
// arrival time, only that it lies between dispatch and completion, so a send occupies the
// window from dispatch (inflight) until completion + span. That is a few milliseconds more
// conservative than the server and never provokes a 429 by jitter at a window's edge.
type slidingLog struct {
	limit    int
	span     time.Duration
	inflight int
	done     []time.Time // completion times, oldest first; at most limit kept
}

func newSlidingLog(limit int, span time.Duration) *slidingLog {
	return &slidingLog{limit: limit, span: span}
}

// next says when one more send fits: now, a time later, or never while the window is full
// of sends still in flight.
func (l *slidingLog) next(now time.Time) time.Time { return l.nextUnder(now, l.limit) }

// nextUnder is next for a lower limit: when one more send fits with at most limit in the
// window.
func (l *slidingLog) nextUnder(now time.Time, limit int) time.Time {
	cut := now.Add(-l.span)
	i := 0
	for i < len(l.done) && !l.done[i].After(cut) {
		i++
	}
	if i > 0 {
		l.done = append(l.done[:0], l.done[i:]...)
	}
	over := l.inflight + len(l.done) - limit // sends that must leave the window, minus one
	if over < 0 {
		return now
	}
	if over >= len(l.done) {
		return never
	}
	return l.done[over].Add(l.span)
}

func (l *slidingLog) reserve() { l.inflight++ }

func (l *slidingLog) complete(at time.Time) {
	if l.inflight > 0 {
		l.inflight--
	}
	l.record(at)
}

// record adds a send that completed at at, without one having been reserved: what a
// previous process sent, for a limiter that is starting.
func (l *slidingLog) record(at time.Time) {
	if len(l.done) == l.limit {
		l.done = append(l.done[:0], l.done[1:]...)
	}
	if n := len(l.done); n > 0 && at.Before(l.done[n-1]) {
		at = l.done[n-1] // keep the log sorted even if the clock steps back
	}
	l.done = append(l.done, at)
}

// idle reports whether the log no longer constrains anything and can be dropped.
func (l *slidingLog) idle(now time.Time) bool {
	return l.inflight == 0 && (len(l.done) == 0 || !l.done[len(l.done)-1].After(now.Add(-l.span)))
}

// rateLog turns "perSpan sends per span" with a fractional rate into a sliding log: 30/s is
// 30 per second, 0.5/s is 1 per two seconds.
func rateLog(perSpan float64, span time.Duration) *slidingLog {
	if perSpan >= 1 {
		return newSlidingLog(int(math.Floor(perSpan)), span)
	}
	return newSlidingLog(1, time.Duration(float64(span)/perSpan))
}

// limiter holds Telegram's three limits: overall, per chat, per group. It is used by the
// sender's dispatch loop only, so it needs no lock.
type limiter struct {
	global                *slidingLog
	perChat, perGroup     map[int64]*slidingLog
	chatRate, groupPerMin float64
}

func newLimiter(global, perChatPerSecond, perGroupPerMinute float64) *limiter {
	return &limiter{
		global:      rateLog(global, time.Second),
		perChat:     map[int64]*slidingLog{},
		perGroup:    map[int64]*slidingLog{},
		chatRate:    perChatPerSecond,
		groupPerMin: perGroupPerMinute,
	}
}

// isGroup tells groups, supergroups and channels (negative ids) from private chats.
func isGroup(chatID int64) bool { return chatID < 0 }

func (l *limiter) chat(id int64) *slidingLog {
	c, ok := l.perChat[id]
	if !ok {
		c = rateLog(l.chatRate, time.Second)
		l.perChat[id] = c
	}
	return c
}

func (l *limiter) group(id int64) *slidingLog {
	g, ok := l.perGroup[id]
	if !ok {
		g = rateLog(l.groupPerMin, time.Minute)
		l.perGroup[id] = g
	}
	return g
}

// chatNext is when chatID may be sent to again, ignoring the global limit. In a group,
// notifications leave part of the minute to replies (groupReplyReserve), as they leave part
// of the global second: a command in a group that had 20 notifications in the last minute
// is answered at once, not after the minute.
func (l *limiter) chatNext(chatID int64, now time.Time, interactive bool) time.Time {
	t := l.chat(chatID).next(now)
	if isGroup(chatID) {
		g := l.group(chatID)
		limit := g.limit
		if !interactive {
			limit -= groupReplyReserve(limit)
		}
		if n := g.nextUnder(now, limit); n.After(t) {
			t = n
		}
	}
	return t
}

// groupReplyReserve is how many of a group's sends a minute notifications leave to replies:
// two of Telegram's 20, so two commands a minute are answered at once however busy the group.
func groupReplyReserve(limit int) int {
	switch {
	case limit >= 10:
		return 2
	case limit >= 2:
		return 1
	}
	return 0
}

// globalNext is when one more send fits in the global window. Notifications leave part of
// it free (replyReserve), so that a command's reply never waits for the window a fan-out
// filled: it takes the slot kept for it at once.
func (l *limiter) globalNext(now time.Time, interactive bool) time.Time {
	if interactive {
		return l.global.next(now)
	}
	return l.global.nextUnder(now, l.global.limit-replyReserve(l.global.limit))
}

// replyReserve is how many sends of each global window notifications leave to replies: one
// of Telegram's 30 a second. One is enough for a command a second to be answered at once, and
// keeps a fan-out within 4 % of Telegram's pace (3,000 chats in 103 s instead of 100).
func replyReserve(limit int) int {
	if limit < 2 {
		return 0
	}
	return max(1, limit/30)
}

func (l *limiter) reserve(chatID int64) {
	l.global.reserve()
	l.chat(chatID).reserve()
	if isGroup(chatID) {
		l.group(chatID).reserve()
	}
}

func (l *limiter) complete(chatID int64, at time.Time) {
	l.global.complete(at)
	l.chat(chatID).complete(at)
	if isGroup(chatID) {
		l.group(chatID).complete(at)
	}
}

// forget drops a chat's logs once they constrain nothing, so memory follows active chats,
// not every chat ever written to.
func (l *limiter) forget(chatID int64, now time.Time) {
	if c, ok := l.perChat[chatID]; ok && c.idle(now) {
		delete(l.perChat, chatID)
	}
	if g, ok := l.perGroup[chatID]; ok && g.idle(now) {
		delete(l.perGroup, chatID)
	}
}

// sweep forgets every chat whose logs constrain nothing any more, except the chats keep
// names (those with messages queued). A chat's log is still busy at the moment its queue
// empties, so forget alone would keep every chat ever written to; the sender sweeps now
// and then.
func (l *limiter) sweep(now time.Time, keep func(chatID int64) bool) {
	for id, c := range l.perChat {
		if !keep(id) && c.idle(now) {
			delete(l.perChat, id)
		}
	}
	for id, g := range l.perGroup {
		if !keep(id) && g.idle(now) {
			delete(l.perGroup, id)
		}
	}
}

// seed tells a starting limiter what happened before it started, because Telegram's windows
// outlive a herald process: sends are the sends a previous process had acknowledged
// (oldest first), and each chat in held may have had one more in flight when that process
// stopped, counted by Telegram but never acknowledged. Those are counted as completing
// now, which is after they really did; at most inflight of them go into the global window,
// since no more sends than that are in flight at once.
func (l *limiter) seed(sends []store.Send, held []int64, inflight int, now time.Time) {
	for _, s := range sends {
		if s.At.After(now) {
			s.At = now // a clock that stepped back must not hold a chat for long
		}
		l.global.record(s.At)
		l.chat(s.ChatID).record(s.At)
		if isGroup(s.ChatID) {
			l.group(s.ChatID).record(s.At)
		}
	}
	for i, id := range held {
		if i < inflight {
			l.global.record(now)
		}
		l.chat(id).record(now)
		if isGroup(id) {
			l.group(id).record(now)
		}
	}
}
