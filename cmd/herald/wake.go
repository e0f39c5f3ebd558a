package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/store"
)

// senderWake wakes the sender wherever it runs. In the process holding the sender role it
// is the sender's own Wake (no database round trip: the event hot path commits without
// NOTIFY, see store.EnqueueQuiet); elsewhere it is a NOTIFY on the outbox channel, at most
// one per wakeGap however many events commit meanwhile.
type senderWake struct {
	local  atomic.Pointer[bot.Sender]
	remote chan struct{}
}

const wakeGap = 20 * time.Millisecond

func newSenderWake() *senderWake { return &senderWake{remote: make(chan struct{}, 1)} }

// Wake never blocks.
func (w *senderWake) Wake() {
	if s := w.local.Load(); s != nil {
		s.Wake()
		return
	}
	select {
	case w.remote <- struct{}{}:
	default:
	}
}

// Run sends the remote wakes until ctx ends.
func (w *senderWake) Run(ctx context.Context, st *store.Store, log zerolog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.remote:
		}
		if w.local.Load() == nil {
			nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := st.Notify(nctx, store.OutboxChannel, ""); err != nil && ctx.Err() == nil {
				// The sender still finds the rows at its next poll.
				log.Warn().Err(err).Msg("cannot wake the sender in another process")
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wakeGap):
		}
	}
}
