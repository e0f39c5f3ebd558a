package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// App is the whole herald service. Run starts every part and stops them in order.
type App struct {
	Config *Config
	Log    zerolog.Logger
	Getenv func(string) string

	// Addr is the HTTP listener's address once it is listening (tests use port 0).
	Addr atomic.Value

	matrix atomic.Pointer[authz.Matrix]
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

	sender := bot.NewSender(st, api, bot.SenderOptions{
		Global:            cfg.Telegram.Limits.Global,
		PerChatPerSecond:  cfg.Telegram.Limits.PerChatPerSecond,
		PerGroupPerMinute: cfg.Telegram.Limits.PerGroupPerMinute,
		APIURL:            cfg.Telegram.APIURL,
	}, log.With().Str("part", "sender").Logger())
	notifier := bot.NewNotifier(st, bot.NotifyOptions{Wake: sender.Wake, ShowConn: len(cfg.CI) > 1}, log.With().Str("part", "notifier").Logger())
	intake := bot.NewIntake(st, api, reg, func() string { return username }, bot.IntakeOptions{}, log.With().Str("part", "intake").Logger())

	// Intake, CI watchers and the webhook stop first (intakeCtx); the sender keeps going
	// until they are done, so replies to commands in flight still go out.
	intakeCtx, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIntake()
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSender()

	mux := http.NewServeMux()
	a.routes(mux, st, api, sender)
	if cfg.Telegram.Mode == "webhook" {
		mux.Handle("POST "+cfg.Telegram.Webhook.Path, bot.NewWebhook(intakeCtx, st, intake, cfg.Telegram.Webhook.SecretToken, log.With().Str("part", "webhook").Logger()))
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", cfg.HTTP.Listen, err)
	}
	a.Addr.Store(ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server stopped")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Str("mode", cfg.Telegram.Mode).Str("bot", username).Msg("herald is running")

	var senderWG, intakeWG sync.WaitGroup
	senderWG.Add(1)
	go func() {
		defer senderWG.Done()
		if err := sender.Run(senderCtx); err != nil {
			log.Error().Err(err).Msg("sender stopped")
		}
	}()
	intakeWG.Add(1)
	go func() {
		defer intakeWG.Done()
		_ = intake.Run(intakeCtx)
	}()
	if cfg.Telegram.Mode == "webhook" {
		if err := bot.Register(ctx, api, cfg.Telegram.Webhook.URL, cfg.Telegram.Webhook.SecretToken); err != nil {
			log.Error().Err(err).Msg("cannot register the webhook with Telegram; updates will not arrive until it is")
		}
	} else {
		poller := bot.NewPoller(st, api, intake, cfg.Telegram.APIURL, cfg.Telegram.PollTimeout, log.With().Str("part", "poller").Logger())
		intakeWG.Add(1)
		go func() {
			defer intakeWG.Done()
			if err := poller.Run(intakeCtx); err != nil {
				log.Error().Err(err).Msg("poller stopped")
			}
		}()
	}
	for _, p := range providers {
		intakeWG.Add(1)
		go func(p ci.Provider) {
			defer intakeWG.Done()
			watch(intakeCtx, st, p, notifier, log)
		}(p)
	}
	intakeWG.Add(1)
	go func() {
		defer intakeWG.Done()
		housekeeping(intakeCtx, st, log)
	}()

	a.waitForSignals(ctx, log)
	log.Info().Msg("shutting down: no new updates or events")
	stopIntake()
	intakeWG.Wait()
	log.Info().Msg("handlers finished; stopping the sender")
	stopSender()
	senderWG.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	log.Info().Msg("stopped")
	return nil
}

// waitForSignals returns when ctx ends; SIGHUP meanwhile reloads the authz matrix.
func (a *App) waitForSignals(ctx context.Context, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			a.reloadAuthz(log)
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
		sleep(ctx, time.Second) // a cancelled ctx fails the next Ping at once
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
		sleep(ctx, time.Duration(min(attempt, 10))*time.Second) // a cancelled ctx fails the next getMe at once
	}
}

// sleep waits for d, or less when ctx ends first: a SIGTERM while herald waits at start
// for the database or Telegram stops it at once, not after the wait.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
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

func newProviders(cfg *Config, log zerolog.Logger) ([]ci.Provider, error) {
	var out []ci.Provider
	for _, c := range cfg.CI {
		p, err := buildbot.New(buildbot.Config{
			Name: c.Name, URL: c.URL, PollInterval: c.PollInterval,
			Auth: buildbot.Auth{Kind: c.Auth.Type, Username: c.Auth.Username, Password: c.Auth.Password, Token: c.Auth.Token},
		}, log.With().Str("conn", c.Name).Logger())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// watch streams a provider's events into the notifier, from where herald last saw it.
func watch(ctx context.Context, st *store.Store, p ci.Provider, sink ci.EventSink, log zerolog.Logger) {
	since, err := st.Cursor(ctx, p.Name())
	if err != nil {
		log.Error().Err(err).Str("conn", p.Name()).Msg("cannot read the CI cursor; catching up from now")
	}
	if since.IsZero() {
		since = time.Now()
	}
	if err := p.Watch(ctx, since, sink); err != nil && ctx.Err() == nil {
		log.Error().Err(err).Str("conn", p.Name()).Msg("CI watch stopped")
	}
}

func defaultChats(cfg *Config) []store.DefaultChat {
	var out []store.DefaultChat
	for _, c := range cfg.Chats {
		out = append(out, store.DefaultChat{ChatID: c.ID, ThreadID: c.Thread, Events: c.Events, Builders: c.Builders, Branches: c.Branches})
	}
	return out
}
