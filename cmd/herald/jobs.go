package main

import (
	"context"
	_ "time/tzdata" // quiet hours and digests name IANA zones; a scratch image has no zoneinfo

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// The scheduled jobs, each a role (serve_roles.go): one process at a time runs it, and what
// it does is claimed in Postgres in the transaction that queues its messages, so a second
// process, a restart or a failover neither repeats nor skips a run.
const (
	roleDigests   = "digests"
	roleReminders = "reminders"
)

// runDigests is the body of the digests role.
func (a *App) runDigests(ctx context.Context, st *store.Store, wake *senderWake) error {
	return bot.NewDigests(st, a.jobOptions(wake), a.Log.With().Str("part", "digests").Logger()).Run(ctx)
}

// runReminders is the body of the reminders role.
func (a *App) runReminders(ctx context.Context, st *store.Store, wake *senderWake) error {
	return bot.NewReminders(st, a.jobOptions(wake), a.Log.With().Str("part", "reminders").Logger()).Run(ctx)
}

// jobOptions wake this process's sender after a commit, as the notifier does; when the
// sender runs in another process the wake's NOTIFY reaches it (senderWake).
func (a *App) jobOptions(wake *senderWake) bot.JobOptions {
	return bot.JobOptions{Wake: wake.Wake, ShowConn: len(a.Config.CI) > 1}
}

// addTimely registers /quiet, /digest, /remind and /ack on the store's settings.
func addTimely(reg *commands.Registry, deps commands.Deps, st *store.Store) {
	commands.AddTimely(reg, commands.Timely{Deps: deps, Settings: st})
}
