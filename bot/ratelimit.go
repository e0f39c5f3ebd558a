package bot

import (
	"fmt"
	"sync"
	"time"
)

// RateLimit is a token bucket: Burst commands at once, then one more every Every. A zero
// field takes the default; a negative Burst turns the limit off.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// Defaults: a person may fire off ten commands, then one every six seconds (10 a minute); a
// chat, where several people ask, twenty and then one every three seconds. Every command
// costs the CI calls; a script or a stuck key must not turn a chat into a load test.
var (
	DefaultUserRate = RateLimit{Burst: 10, Every: 6 * time.Second}
	DefaultChatRate = RateLimit{Burst: 20, Every: 3 * time.Second}
)

func (r RateLimit) orDefault(def RateLimit) RateLimit {
	if r.Burst == 0 {
		r.Burst = def.Burst
	}
	if r.Every <= 0 {
		r.Every = def.Every
	}
	return r
}

// bucket is one sender's or chat's allowance.
type bucket struct {
	tokens float64
	last   time.Time
	told   bool // "slow down" was said since the last command that ran
}

// refill adds what the time since last earned, up to the burst.
func (b *bucket) refill(r RateLimit, now time.Time) {
	if now.After(b.last) {
		b.tokens += float64(now.Sub(b.last)) / float64(r.Every)
		b.last = now
	}
	if b.tokens > float64(r.Burst) {
		b.tokens = float64(r.Burst)
	}
}

// wait is how long until b has a whole token.
func (b *bucket) wait(r RateLimit) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(r.Every))
}

// commandLimiter decides, as commands come in, which ones run. The excess is not queued (a
// queue would only delay the flood, and the CI would still get every call): it is dropped,
// and the first dropped command of a streak is answered so the sender knows why nothing
// happens.
type commandLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	user  RateLimit
	chat  RateLimit
	users map[int64]*bucket
	chats map[int64]*bucket
}

func newCommandLimiter(user, chat RateLimit, now func() time.Time) *commandLimiter {
	return &commandLimiter{now: now, user: user.orDefault(DefaultUserRate), chat: chat.orDefault(DefaultChatRate),
		users: map[int64]*bucket{}, chats: map[int64]*bucket{}}
}

// verdict is what the limiter says of one command.
type verdict struct {
	drop bool
	tell string // with drop: the "slow down" answer, said once per streak; "" stays silent
}

// allow takes one command of sender in chat, sent now (see allowAt).
func (l *commandLimiter) allow(sender, chat int64) verdict {
	return l.allowAt(sender, chat, time.Time{})
}

// allowAt takes one command of sender in chat, sent at sentAt (zero: now). sender is whoever
// the command counts against: a person's user id, or for anonymous admins and channels the
// chat they post as (their placeholder user ids are shared by everyone posting that way).
//
// Buckets refill by the time commands were sent, not read: a backlog herald reads at once
// after a restart is judged by its senders' pace, and a bucket's time only moves forward, so
// a command read late never earns back what later ones spent.
func (l *commandLimiter) allowAt(sender, chat int64, sentAt time.Time) verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := sentAt
	if now.IsZero() {
		now = l.now()
	}
	if len(l.users)+len(l.chats) > 10000 {
		l.forgetIdleLocked(l.now())
	}
	var ub, cb *bucket
	if l.user.Burst > 0 {
		ub = l.bucketLocked(l.users, sender, l.user, now)
	}
	// In a private chat the person is the chat: one bucket is enough.
	if l.chat.Burst > 0 && !(chat > 0 && chat == sender) {
		cb = l.bucketLocked(l.chats, chat, l.chat, now)
	}
	switch {
	case ub != nil && ub.tokens < 1:
		return l.refuseLocked(ub, fmt.Sprintf("Slow down: at most %d commands at once, then one every %s, for each person. I am ignoring your commands for %s.",
			l.user.Burst, l.user.Every, roundUp(ub.wait(l.user))))
	case cb != nil && cb.tokens < 1:
		return l.refuseLocked(cb, fmt.Sprintf("Slow down: at most %d commands at once, then one every %s, in this chat. I am ignoring commands here for %s.",
			l.chat.Burst, l.chat.Every, roundUp(cb.wait(l.chat))))
	}
	for _, b := range []*bucket{ub, cb} {
		if b != nil {
			b.tokens--
			b.told = false
		}
	}
	return verdict{}
}

func (l *commandLimiter) refuseLocked(b *bucket, text string) verdict {
	if b.told {
		return verdict{drop: true}
	}
	b.told = true
	return verdict{drop: true, tell: text}
}

func (l *commandLimiter) bucketLocked(m map[int64]*bucket, key int64, r RateLimit, now time.Time) *bucket {
	b, ok := m[key]
	if !ok {
		b = &bucket{tokens: float64(r.Burst), last: now}
		m[key] = b
	}
	b.refill(r, now)
	return b
}

// forgetIdleLocked drops buckets that are full by now: they hold nothing a new bucket would
// not. The others are left as they are (refilling them to now would move their time past
// commands of a backlog still to be read).
func (l *commandLimiter) forgetIdleLocked(now time.Time) {
	for _, set := range []struct {
		m map[int64]*bucket
		r RateLimit
	}{{l.users, l.user}, {l.chats, l.chat}} {
		for k, b := range set.m {
			if b.tokens+float64(now.Sub(b.last))/float64(set.r.Every) >= float64(set.r.Burst) {
				delete(set.m, k)
			}
		}
	}
}

// roundUp shows a wait in whole seconds, never "0s".
func roundUp(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	return s * time.Second
}
