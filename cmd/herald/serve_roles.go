package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	tgbot "github.com/go-telegram/bot"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// The roles (see roles.go). Each term of a role builds its part afresh: a part's memory
// (queues, limits) belongs to the term in which it held the role.
const (
	roleSender       = store.SenderRole // outbox claims are live while their process holds it
	roleIntake       = "intake"
	rolePoller       = "poller"
	roleWebhook      = "webhook"
	roleHousekeeping = "housekeeping"
	roleCIPrefix     = "ci:" // + the connection's name
)

// addRoles names every role this process may take and what it runs while it holds it.
func (a *App) addRoles(r *roleRunner, st *store.Store, api *tgbot.Bot, reg *commands.Registry, providers []ci.Provider,
	notifier *bot.Notifier, lessee *store.Lessee, health *bot.Health, wake *senderWake, intake *intakeRef,
	sendMetrics *bot.Metrics, username func() string) {
	cfg, log := a.Config, a.Log

	r.add(roleIntake, 0, func(ctx context.Context) error {
		opts := cfg.IntakeOptions()
		opts.Health = health // not ready until it read what a previous holder left unhandled
		opts.Forward = cfg.forwardBody()
		in := bot.NewIntake(st, api, reg, username, opts, log.With().Str("part", "intake").Logger())
		intake.p.Store(in)
		defer intake.p.Store(nil)
		return in.Run(ctx)
	}, func() { health.Forget("intake") })

	if cfg.Telegram.Mode == "webhook" {
		r.add(roleWebhook, 0, func(ctx context.Context) error {
			health.Expect("webhook", 0)
			return a.runWebhook(ctx, api, health, log.With().Str("part", "webhook").Logger()) // webhookrole.go
		}, func() { health.Forget("webhook") })
	} else {
		r.add(rolePoller, 0, func(ctx context.Context) error {
			p := bot.NewPoller(st, api, intake, cfg.Telegram.APIURL, cfg.Telegram.PollTimeout,
				log.With().Str("part", "poller").Logger(), bot.PollerHealth(health))
			return p.Run(ctx)
		}, func() { health.Forget("poller") })
	}

	follow := a.watch
	if follow == nil {
		follow = watch
	}
	for _, p := range providers {
		r.add(roleCIPrefix+p.Name(), 0, func(ctx context.Context) error { return follow(ctx, st, p, notifier, log) }, nil)
	}
	if cfg.Forward.URL != "" {
		r.add(roleForwarder, 0, func(ctx context.Context) error { return runForwarder(ctx, cfg, st, log) }, nil) // config_actions.go
	}
	r.add(roleHousekeeping, 0, func(ctx context.Context) error { housekeeping(ctx, st, log); return nil }, nil)
	r.add(roleDigests, 0, func(ctx context.Context) error { return a.runDigests(ctx, st, wake) }, nil)     // jobs.go
	r.add(roleReminders, 0, func(ctx context.Context) error { return a.runReminders(ctx, st, wake) }, nil) // jobs.go

	// The sender stops last (stage 1): the handlers stopping before it still get their
	// replies out.
	r.add(roleSender, 1, func(ctx context.Context) error {
		s := bot.NewSender(st, api, bot.SenderOptions{
			Global:            cfg.Telegram.Limits.Global,
			PerChatPerSecond:  cfg.Telegram.Limits.PerChatPerSecond,
			PerGroupPerMinute: cfg.Telegram.Limits.PerGroupPerMinute,
			APIURL:            cfg.Telegram.APIURL,
			Health:            health,
			Metrics:           sendMetrics,
			Process:           lessee.ID(),
			GroupWindow:       cfg.Notifications.GroupWindow,
		}, log.With().Str("part", "sender").Logger())
		wake.local.Store(s)
		defer wake.local.Store(nil)
		s.Wake() // whatever was enqueued while no sender ran here
		return s.Run(ctx)
	}, func() { health.Forget("sender") })
}

// intakeRef is the intake of this process while it holds the intake role, nil otherwise.
// The poller and the webhook hand updates to it after storing them; when another process
// holds the intake, the NOTIFY of the store brings them there instead.
type intakeRef struct{ p atomic.Pointer[bot.Intake] }

// Submit passes stored updates to the local intake, if there is one.
func (r *intakeRef) Submit(ups ...store.Update) {
	if in := r.p.Load(); in != nil {
		in.Submit(ups...)
	}
}

// processName names this process in logs and in the processes table: host:pid.
func processName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "herald"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}
