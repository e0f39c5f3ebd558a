package main

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// housekeeping prunes what herald no longer needs, on a cron schedule, until ctx ends.
func housekeeping(ctx context.Context, st *store.Store, log zerolog.Logger) {
	c := cron.New()
	_, _ = c.AddFunc("@every 1h", func() {
		if n, err := st.PruneUpdates(ctx, 7*24*time.Hour); err != nil {
			log.Warn().Err(err).Msg("pruning handled updates failed")
		} else if n > 0 {
			log.Debug().Int64("count", n).Msg("pruned handled updates")
		}
		// Buttons older than a month answer "expired" instead of acting on old state.
		if _, err := st.PruneCallbacks(ctx, 30*24*time.Hour); err != nil {
			log.Warn().Err(err).Msg("pruning button payloads failed")
		}
		if _, err := st.PruneCards(ctx, 30*24*time.Hour); err != nil {
			log.Warn().Err(err).Msg("pruning build cards failed")
		}
		// Events past any redelivery; the build history stays.
		if _, err := st.PruneEvents(ctx, 90*24*time.Hour); err != nil {
			log.Warn().Err(err).Msg("pruning CI events failed")
		}
		// Webhook delivery ids as long as the events they brought.
		if _, err := st.PruneDeliveries(ctx, 90*24*time.Hour); err != nil {
			log.Warn().Err(err).Msg("pruning CI webhook deliveries failed")
		}
		// Processes gone for a day: nothing names them any more.
		if _, err := st.PruneProcesses(ctx); err != nil {
			log.Warn().Err(err).Msg("pruning gone processes failed")
		}
		// Reminders and acks of breakages fixed and quiet for a month.
		if _, err := st.PruneReminders(ctx, 30*24*time.Hour); err != nil {
			log.Warn().Err(err).Msg("pruning breakage reminders failed")
		}
		// Pending questions past their time: /force and /stop conversations nobody finished.
		if _, err := st.PruneConversations(ctx, time.Now()); err != nil {
			log.Warn().Err(err).Msg("pruning conversations failed")
		}
	})
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}
