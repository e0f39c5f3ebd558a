package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// App is the whole herald service. Run starts every part and stops them in order.
type App struct {
	Config *Config
	Log    zerolog.Logger
	Getenv func(string) string

	// Addr is the HTTP listener's address once it is listening (tests use port 0), and
	// MetricsAddr the metrics listener's when http.metrics_listen is set.
	Addr        atomic.Value
	MetricsAddr atomic.Value

	matrix atomic.Pointer[authz.Matrix]
	certs  *certReloader // http.tls, reloaded on SIGHUP (tlsreload.go); nil: plain HTTP

	// watch follows one CI connection; nil is the package's watch. Tests replace it to make
	// a part end.
	watch func(ctx context.Context, st *store.Store, p ci.Provider, sink ci.EventSink, log zerolog.Logger) error
}

func migrateOnly(ctx context.Context, cfg *Config, log zerolog.Logger) error {
	st, err := store.Open(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	log.Info().Uint("schema_version", v).Msg("database migrated")
	return nil
}

// Run serves until ctx ends. Shutdown order: stop taking updates and CI events, let the
// handlers in flight finish, let the sender finish its in-flight message, stop the HTTP
// server, close the database.
func (a *App) Run(ctx context.Context) error {
	cfg, log := a.Config, a.Log
	m, err := cfg.Matrix()
	if err != nil {
		return err
	}
	a.matrix.Store(m)

	st, err := openStore(ctx, cfg.Database.URL, log)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	log.Info().Uint("schema_version", v).Msg("database ready")

	api, err := bot.NewAPI(cfg.Telegram.Token, cfg.Telegram.APIURL, cfg.Telegram.PollTimeout)
	if err != nil {
		return err
	}
	username, err := botUsername(ctx, api, cfg, log)
	if err != nil {
		return err
	}

	providers, err := newProviders(cfg, log)
	if err != nil {
		return err
	}
	reg := a.registry(st, api, providers, log)
	setCommands(ctx, api, reg, log)
	if err := st.SeedDefaults(ctx, defaultChats(cfg)); err != nil {
		return err
	}
	if err := seedPeople(ctx, st, cfg); err != nil { // the config's people: (people.go)
		return err
	}

	health := bot.NewHealth(nil)
	resolveNamedChats(ctx, api, st, cfg, health, log.With().Str("part", "chats").Logger()) // chats[].id: "@channel" (chat_usernames.go)
	lessee, err := st.NewLessee(ctx, processName())
	if err != nil {
		return err
	}
	defer lessee.Close(context.Background())

	// Every long-running part reports to ended if it stops on its own (parts, roles).
	ended := make(chan error, 1)
	roles := newRoleRunner(lessee, ended, log.With().Str("part", "roles").Logger())
	wake := newSenderWake()
	intake := &intakeRef{}
	sendMetrics := bot.NewMetrics()
	notifier := bot.NewNotifier(st, bot.NotifyOptions{Wake: wake.Wake, ShowConn: len(cfg.CI) > 1,
		RebuildLabel: bot.RebuildLabelsOf(providers), ConnKind: bot.ConnKindsOf(providers),
		Blamelist: cfg.Notifications.Blamelist, Revisions: cfg.Notifications.Revisions}, log.With().Str("part", "notifier").Logger())
	a.addRoles(roles, st, api, reg, providers, notifier, lessee, health, wake, intake, sendMetrics, func() string { return username })

	otherParts, httpParts := newParts(ended), newParts(ended)
	mux := http.NewServeMux()
	metrics := a.metricsHandler(sendMetrics, roles.leader)
	a.routes(mux, st, health, roles)
	a.ciWebhooks(mux, st, providers, notifier)
	a.relayRoutes(mux, st)
	if err := a.hookRoutes(ctx, mux, st, providers, notifier); err != nil {
		return err
	}
	if cfg.HTTP.MetricsListen == "" {
		mux.Handle("GET /metrics", metrics)
	}
	if cfg.Telegram.Mode == "webhook" {
		// Every replica takes updates; the one holding the intake handles them.
		mux.Handle("POST "+cfg.Telegram.Webhook.Path, bot.NewWebhook(st, intake, cfg.Telegram.Webhook.SecretToken, log.With().Str("part", "webhook").Logger()))
	}
	if err := a.loadTLS(); err != nil {
		return err
	}
	srv, err := a.serveHTTP(httpParts, "http server", cfg.HTTP.Listen, a.tlsConfig(), mux, &a.Addr)
	if err != nil {
		return err
	}
	servers := []*http.Server{srv}
	if cfg.HTTP.MetricsListen != "" {
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metrics)
		msrv, err := a.serveHTTP(httpParts, "metrics server", cfg.HTTP.MetricsListen, nil, mmux, &a.MetricsAddr)
		if err != nil {
			_ = srv.Close()
			return err
		}
		servers = append(servers, msrv)
	}

	rolesCtx, stopRoles := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRoles()
	rolesDone := make(chan struct{})
	go func() { defer close(rolesDone); roles.Run(rolesCtx) }()
	wakeCtx, stopWake := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWake()
	otherParts.Go("sender wake", func() error { return wake.Run(wakeCtx, st, log) })
	log.Info().Str("addr", a.Addr.Load().(string)).Str("mode", cfg.Telegram.Mode).Str("bot", username).
		Str("process", lessee.Name()).Msg("herald is running")

	failed := a.waitForSignals(ctx, ended, log)
	if failed != nil {
		// The error itself is logged once, by main, as herald exits with status 1.
		log.Warn().Msg("a part of herald stopped on its own; shutting down so that a supervisor starts herald again")
	}
	otherParts.Stop()
	httpParts.Stop()
	// The roles stop stage by stage: updates, CI followers and jobs first, then the sender,
	// so replies to commands in flight still go out; each lock is then given back, and a
	// standby replica takes the role within a second.
	log.Info().Msg("shutting down: giving up the roles")
	stopRoles()
	<-rolesDone
	stopWake()
	otherParts.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	httpParts.Wait()
	log.Info().Msg("stopped")
	return failed
}

// waitForSignals returns when ctx ends (nil) or a part stopped on its own (its report);
// SIGHUP meanwhile reloads the authz matrix.
func (a *App) waitForSignals(ctx context.Context, ended <-chan error, log zerolog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-ended:
			return err
		case <-hup:
			a.reloadAuthz(log)
			a.reloadTLS(log) // tlsreload.go
		}
	}
}

// reloadAuthz re-reads the config file and applies its authz section. A file with any
// problem keeps the rules in force.
func (a *App) reloadAuthz(log zerolog.Logger) {
	cfg, err := LoadConfig(a.Config.path, a.Getenv)
	if err != nil {
		log.Error().Str("problems", err.Error()).Msg("SIGHUP: config has problems; keeping the authz rules in force")
		return
	}
	m, err := cfg.Matrix()
	if err != nil {
		log.Error().Str("problems", err.Error()).Msg("SIGHUP: authz has problems; keeping the rules in force")
		return
	}
	a.matrix.Store(m)
	log.Info().Msg("SIGHUP: authz rules reloaded (other settings apply at the next start)")
}

func (a *App) registry(st *store.Store, api *tgbot.Bot, providers []ci.Provider, log zerolog.Logger) *commands.Registry {
	deps := commands.Deps{
		CI:        providers,
		Store:     st,
		Authz:     a.matrix.Load,
		ChatAdmin: chatAdmin(api),
		Version:   version,
		SourceURL: a.Config.Source,
		Log:       log.With().Str("part", "commands").Logger(),
	}
	reg := commands.NewRegistry(commands.NewGate(deps))
	reg.Add(commands.Start(reg), commands.Help(reg), commands.Commands(reg), commands.GetID())
	commands.Register(reg, deps)
	addRegistration(reg, deps, st, api, a.Config)
	addPeople(reg, deps, st) // /iam, /link (people.go)
	addTimely(reg, deps, st) // /quiet, /digest, /remind, /ack (jobs.go)
	reg.Add(actionCommands(a.Config, deps)...)
	reg.Add(commands.Hello(), commands.Shutdown(deps), commands.Worker(deps), commands.Scheduler(deps))
	return reg
}

// chatAdmin asks Telegram whether a user administers a chat (for notify_admins_only).
func chatAdmin(api *tgbot.Bot) func(ctx context.Context, chatID, userID int64) (bool, error) {
	return func(ctx context.Context, chatID, userID int64) (bool, error) {
		m, err := api.GetChatMember(ctx, &tgbot.GetChatMemberParams{ChatID: chatID, UserID: userID})
		if err != nil {
			return false, errors.New("telegram: getChatMember: " + bot.Redact(err.Error(), api.Token()))
		}
		return m.Type == models.ChatMemberTypeOwner || m.Type == models.ChatMemberTypeAdministrator, nil
	}
}

func openStore(ctx context.Context, url string, log zerolog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	// Wait for the database a little: in docker compose it may start after herald.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := st.Ping(ctx)
		if err == nil {
			return st, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			st.Close()
			return nil, err
		}
		log.Warn().Err(err).Msg("database not reachable yet; retrying")
		bot.Sleep(ctx, time.Second) // a cancelled ctx fails the next Ping at once
	}
}

// botUsername is the configured username, or Telegram's answer to getMe.
func botUsername(ctx context.Context, api *tgbot.Bot, cfg *Config, log zerolog.Logger) (string, error) {
	if cfg.Telegram.Username != "" {
		return cfg.Telegram.Username, nil
	}
	for attempt := 1; ; attempt++ {
		me, err := api.GetMe(ctx)
		if err == nil {
			return me.Username, nil
		}
		if errors.Is(err, tgbot.ErrorUnauthorized) {
			return "", errors.New("telegram: the bot token was refused (Unauthorized); check telegram.token")
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		log.Warn().Str("error", bot.Redact(err.Error(), api.Token())).Int("attempt", attempt).Msg("getMe failed; retrying (set telegram.username to start without it)")
		bot.Sleep(ctx, bot.RetryWait(attempt)) // a cancelled ctx fails the next getMe at once
	}
}

// setCommands publishes the command menu. A failure costs only the menu, so it is logged.
func setCommands(ctx context.Context, api *tgbot.Bot, reg *commands.Registry, log zerolog.Logger) {
	var cmds []models.BotCommand
	for _, c := range reg.All() {
		cmds = append(cmds, models.BotCommand{Command: c.Name, Description: c.Summary})
	}
	if _, err := api.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{Commands: cmds}); err != nil {
		log.Warn().Str("error", bot.Redact(err.Error(), api.Token())).Msg("setMyCommands failed; the command menu may be out of date")
	}
}

// watch follows a provider (ci.Follower: its stream, its catch-up and reconciliation) into
// the notifier, from where herald last saw it. The cursor is read again until the database
// answers: starting "from now" instead would skip every build that finished while herald was
// down. It returns when ctx ends (nil) or when the follower gives up (its error: herald then
// exits, see parts). A provider that can be followed neither way is logged once and left be.
func watch(ctx context.Context, st *store.Store, p ci.Provider, sink ci.EventSink, log zerolog.Logger) error {
	var since time.Time
	for attempt := 1; ; attempt++ {
		var err error
		if since, err = st.Cursor(ctx, p.Name()); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Error().Err(err).Str("conn", p.Name()).Int("attempt", attempt).Msg("cannot read the CI cursor; retrying")
		bot.Sleep(ctx, bot.RetryWait(attempt))
	}
	if since.IsZero() {
		since = time.Now()
	}
	f := ci.NewFollower(p, sink, since, ci.FollowOptions{Report: func(err error, retryIn time.Duration) {
		log.Warn().Err(err).Str("conn", p.Name()).Dur("retry_in", retryIn).Msg("CI connection lost or catch-up failed; retrying")
	}})
	err := f.Run(ctx)
	switch {
	case errors.Is(err, ci.ErrNotFollowed):
		log.Warn().Str("conn", p.Name()).Str("type", p.Kind()).Msg("this CI can neither stream events nor list changed builds; herald does not follow it")
		<-ctx.Done()
		return nil
	case err != nil && ctx.Err() == nil:
		return err
	}
	return nil
}

func defaultChats(cfg *Config) []store.DefaultChat {
	var out []store.DefaultChat
	for _, c := range cfg.Chats {
		if c.Username != "" {
			continue // seeded once resolved (chat_usernames.go)
		}
		out = append(out, store.DefaultChat{ChatID: c.ID, ThreadID: c.Thread, Events: c.Events, Builders: c.Builders, Branches: c.Branches})
	}
	return out
}
