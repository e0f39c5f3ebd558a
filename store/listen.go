package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen hears the notifications on channel until ctx ends, and returns ctx's error. It is how
// a role holder learns, within milliseconds, what another replica committed: Postgres
// delivers a NOTIFY to every listening session once its transaction commits, in commit order,
// and never one of a transaction that rolled back.
//
// It listens on a connection of its own, not one of the pool's: a listener holds its
// connection for as long as it runs, and the pool is small. When that connection breaks it
// reconnects with backoff; notifications sent meanwhile are lost, so after every reconnect it
// calls got("") — "some may have been missed, look for yourself" — before any new payload.
// ready, if set, is called each time the LISTEN is in place (the first time and after every
// reconnect): what commits from then on is heard.
func (s *Store) Listen(ctx context.Context, channel string, ready func(), got func(payload string)) error {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	wait, again := first, false
	for {
		err := s.listenOn(ctx, channel, func() {
			if again {
				got("")
			}
			again, wait = true, first
			if ready != nil {
				ready()
			}
		}, got)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // a dropped connection: the caller hears got("") once it is back
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, most)
	}
}

// listenOn is one connection's life: LISTEN, then every notification to got until the
// connection breaks or ctx ends.
func (s *Store) listenOn(ctx context.Context, channel string, listening func(), got func(string)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("store: listen %s: connect: %w", channel, err)
	}
	defer func() {
		// A clean goodbye if the server is there; a dead one must not hold up shutdown.
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("store: listen %s: %w", channel, err)
	}
	listening()
	for {
		// A connection that died without a word (its peer gone, no FIN) would keep this
		// read waiting for as long as TCP keepalive takes; a short wait, then a ping, finds
		// out within seconds. A wait that only timed out leaves the connection usable.
		wctx, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			got(n.Payload)
			continue
		case ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed():
			return fmt.Errorf("store: listen %s: %w", channel, err)
		}
		pctx, cancel := context.WithTimeout(ctx, listenCheck)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("store: listen %s: ping: %w", channel, err)
		}
	}
}

// listenCheck is how long a listening connection may be silent before it is pinged.
var listenCheck = 10 * time.Second
