package commands

import (
	"context"
	"sync"
	"time"
)

// adminTTL is how long an answer about who administers a chat is reused. Promotions are
// rare and a few minutes' delay is harmless; asking Telegram at every /notify and every
// button press is not (one call each, and each can fail).
const adminTTL = 5 * time.Minute

// adminAskTimeout bounds one question to Telegram, so a slow Bot API leaves the handler time
// to answer.
const adminAskTimeout = 10 * time.Second

// adminCacheMax bounds the cache; past it, expired answers are dropped, then all.
const adminCacheMax = 4096

// adminCache wraps Deps.ChatAdmin with a short memory per (chat, user). Failures are not
// remembered: the next press asks again.
type adminCache struct {
	ask func(ctx context.Context, chatID, userID int64) (bool, error)
	now func() time.Time

	mu   sync.Mutex
	seen map[[2]int64]adminAnswer
}

type adminAnswer struct {
	admin bool
	at    time.Time
}

func newAdminCache(ask func(ctx context.Context, chatID, userID int64) (bool, error), now func() time.Time) *adminCache {
	return &adminCache{ask: ask, now: now, seen: map[[2]int64]adminAnswer{}}
}

// isAdmin answers from memory when it can, otherwise asks Telegram and remembers.
func (c *adminCache) isAdmin(ctx context.Context, chatID, userID int64) (bool, error) {
	key := [2]int64{chatID, userID}
	c.mu.Lock()
	a, ok := c.seen[key]
	c.mu.Unlock()
	if ok && c.now().Sub(a.at) < adminTTL {
		return a.admin, nil
	}
	actx, cancel := context.WithTimeout(ctx, adminAskTimeout)
	defer cancel()
	admin, err := c.ask(actx, chatID, userID)
	if err != nil {
		return false, err
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) >= adminCacheMax {
		for k, v := range c.seen {
			if now.Sub(v.at) >= adminTTL {
				delete(c.seen, k)
			}
		}
		if len(c.seen) >= adminCacheMax {
			clear(c.seen)
		}
	}
	c.seen[key] = adminAnswer{admin: admin, at: now}
	return admin, nil
}

// chatAdmin tells whether a user administers a group: through the cache Register sets up,
// or straight from ChatAdmin for a Deps used without it. Without ChatAdmin nobody does.
func (d Deps) chatAdmin(ctx context.Context, chatID, userID int64) (bool, error) {
	switch {
	case d.ChatAdmin == nil:
		return false, nil
	case d.admins != nil:
		return d.admins.isAdmin(ctx, chatID, userID)
	default:
		actx, cancel := context.WithTimeout(ctx, adminAskTimeout)
		defer cancel()
		return d.ChatAdmin(actx, chatID, userID)
	}
}
