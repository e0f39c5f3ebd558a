package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// addRegistration wires registration (authz.registration) into the registry: /start, the
// Approve/Deny buttons, /approve, /invite and the check on unregistered chats. The mode is
// read from the matrix at every request, so SIGHUP switches it.
func addRegistration(reg *commands.Registry, deps commands.Deps, st *store.Store, api *tgbot.Bot, cfg *Config) {
	commands.AddRegistration(reg, commands.Registration{Deps: deps, Registrations: newRegistrations(st, cfg), BotUsername: botName(api, cfg)})
}

// botName is the bot's username for invite links: telegram.username, or getMe's answer,
// asked once when the first invite is made.
func botName(api *tgbot.Bot, cfg *Config) func(ctx context.Context) (string, error) {
	var mu sync.Mutex
	name := cfg.Telegram.Username
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if name != "" {
			return name, nil
		}
		me, err := api.GetMe(ctx)
		if err != nil {
			return "", errors.New("telegram: getMe: " + bot.Redact(err.Error(), api.Token()))
		}
		if me.Username == "" {
			return "", errors.New("telegram: getMe gave no username")
		}
		name = me.Username
		return name, nil
	}
}

// registrations is the store as commands.RegistrationStore: the same records, the
// package's own errors.
type registrations struct {
	st *store.Store
	// relayChats are the chats the relay's tokens may write to (fixed at start, as the
	// relay's tokens are): the config sends them messages, so they count as registered.
	relayChats map[int64]bool
}

func newRegistrations(st *store.Store, cfg *Config) registrations {
	r := registrations{st: st, relayChats: map[int64]bool{}}
	for _, t := range cfg.RelayTokens() {
		for _, c := range t.Chats {
			r.relayChats[c.ID] = true
		}
	}
	return r
}

func (r registrations) ChatRegistered(ctx context.Context, chatID int64) (bool, error) {
	if r.relayChats[chatID] {
		return true, nil
	}
	return r.st.ChatRegistered(ctx, chatID)
}

func (r registrations) RegisterOpen(ctx context.Context, chatID int64) error {
	return r.st.RegisterChat(ctx, chatID, store.RegisteredOpen, 0)
}

func (r registrations) RequestRegistration(ctx context.Context, req commands.RegistrationRequest) (commands.RegistrationRequest, bool, error) {
	got, created, err := r.st.RequestRegistration(ctx, store.RegistrationRequest(req))
	return commands.RegistrationRequest(got), created, err
}

func (r registrations) DecideRegistration(ctx context.Context, id int64, approve bool, byUser int64, byName string, at time.Time) (commands.RegistrationRequest, bool, error) {
	got, decided, err := r.st.DecideRegistration(ctx, id, approve, byUser, byName, at)
	if errors.Is(err, store.ErrNotFound) {
		return commands.RegistrationRequest{}, false, fmt.Errorf("%w: %w", commands.ErrNoRequest, err)
	}
	return commands.RegistrationRequest(got), decided, err
}

func (r registrations) PendingRegistrations(ctx context.Context, limit int) ([]commands.RegistrationRequest, error) {
	list, err := r.st.PendingRegistrations(ctx, limit)
	out := make([]commands.RegistrationRequest, len(list))
	for i, rr := range list {
		out[i] = commands.RegistrationRequest(rr)
	}
	return out, err
}

func (r registrations) CreateInvite(ctx context.Context, codeHash []byte, inv commands.InviteInfo) (int64, error) {
	return r.st.CreateInvite(ctx, codeHash, store.Invite(inv))
}

func (r registrations) RedeemInvite(ctx context.Context, codeHash []byte, chatID, threadID int64, events []string, at time.Time) (commands.InviteInfo, bool, error) {
	inv, registered, err := r.st.RedeemInvite(ctx, codeHash, chatID, threadID, events, at)
	for from, to := range map[error]error{
		store.ErrInviteUnknown: commands.ErrInviteUnknown,
		store.ErrInviteExpired: commands.ErrInviteExpired,
		store.ErrInviteSpent:   commands.ErrInviteSpent,
	} {
		if errors.Is(err, from) {
			err = fmt.Errorf("%w: %w", to, err)
			break
		}
	}
	return commands.InviteInfo(inv), registered, err
}
