package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/store"
)

// channelUsername is the form Telegram gives public channels and groups: 5 to 32 letters,
// digits and underscores, starting with a letter.
var channelUsername = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{4,31}$`)

// decodeNode reads a default chat, whose id may be "@channelusername" (Buildbot's form for
// channels in chat_ids) instead of the number /getid shows: that goes to Username and is
// resolved at start (resolveNamedChats).
func (c *ChatConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.decodeStruct(n, reflect.ValueOf(c).Elem(), path) // reports what is wrong
		return
	}
	rest := *n
	rest.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "id" && v.Kind == yaml.ScalarNode && strings.ContainsAny(v.Value, "@$") {
			s, ok := d.expand(v, join(path, "id"))
			if !ok {
				continue // reported
			}
			if s = strings.TrimSpace(s); strings.Contains(s, "@") {
				if !channelUsername.MatchString(s) {
					d.addf(v.Line, "%s.id: %q is not a chat id nor a @channelusername (5-32 letters, digits, underscores)", path, s)
				}
				c.Username = s
				continue
			}
		}
		rest.Content = append(rest.Content, k, v)
	}
	d.decodeStruct(&rest, reflect.ValueOf(c).Elem(), path)
}

// resolveTimeout bounds one getChat.
const resolveTimeout = 10 * time.Second

// healthChats is the /readyz part that reports default chats named by a username that could
// not be resolved.
const healthChats = "chats"

// resolveNamedChats turns the config's @channelusername chats into chat ids and seeds their
// subscriptions like the numbered ones. A name resolved once is kept by id (chat_usernames):
// later starts ask Telegram nothing, and the channel keeps its subscriptions if it is renamed.
// A name Telegram does not know is logged and reported by /readyz until the config is fixed
// and herald restarted; the other chats work meanwhile. When Telegram does not answer, the
// names are tried again in the background until it does (or ctx ends).
func resolveNamedChats(ctx context.Context, api *tgbot.Bot, st *store.Store, cfg *Config, health *bot.Health, log zerolog.Logger) {
	var named []ChatConfig
	for _, c := range cfg.Chats {
		if c.Username != "" {
			named = append(named, c)
		}
	}
	if len(named) == 0 {
		return
	}
	r := &chatResolver{api: api, st: st, health: health, log: log, unknown: map[string]string{}}
	pending := r.pass(ctx, named)
	if len(pending) == 0 {
		return
	}
	go func() {
		for attempt := 1; len(pending) > 0; attempt++ {
			bot.Sleep(ctx, bot.RetryWait(attempt))
			if ctx.Err() != nil {
				return
			}
			pending = r.pass(ctx, pending)
		}
	}()
}

type chatResolver struct {
	api    *tgbot.Bot
	st     *store.Store
	health *bot.Health
	log    zerolog.Logger

	mu      sync.Mutex
	unknown map[string]string // username → why it cannot be resolved (permanent)
	waiting map[string]string // username → why not yet (Telegram did not answer)
}

// pass tries each chat once and returns those to try again.
func (r *chatResolver) pass(ctx context.Context, chats []ChatConfig) (again []ChatConfig) {
	waiting := map[string]string{}
	for _, c := range chats {
		id, err := r.resolve(ctx, c.Username)
		var permanent *unknownChat
		switch {
		case errors.As(err, &permanent):
			r.log.Error().Str("chat", c.Username).Str("reason", permanent.why).
				Msg("config: chats: Telegram does not know this chat; it gets no notifications (fix chats[].id and restart)")
			r.mu.Lock()
			r.unknown[c.Username] = permanent.why
			r.mu.Unlock()
		case err != nil:
			r.log.Warn().Err(err).Str("chat", c.Username).Msg("config: chats: cannot resolve the chat yet; retrying")
			waiting[c.Username] = "not resolved yet: " + err.Error()
			again = append(again, c)
		default:
			def := store.DefaultChat{ChatID: id, ThreadID: c.Thread, Events: c.Events, Builders: c.Builders, Branches: c.Branches}
			if err := r.st.SeedDefaults(ctx, []store.DefaultChat{def}); err != nil {
				r.log.Warn().Err(err).Str("chat", c.Username).Msg("config: chats: cannot subscribe the chat yet; retrying")
				waiting[c.Username] = "not subscribed yet: the database did not answer"
				again = append(again, c)
				continue
			}
			r.log.Info().Str("chat", c.Username).Int64("chat_id", id).Msg("config: chats: resolved")
		}
	}
	r.mu.Lock()
	r.waiting = waiting
	r.report()
	r.mu.Unlock()
	return again
}

// report tells /readyz about the names not resolved; r.mu is held.
func (r *chatResolver) report() {
	var lines []string
	for name, why := range r.unknown {
		lines = append(lines, name+": "+why)
	}
	for name, why := range r.waiting {
		lines = append(lines, name+": "+why)
	}
	if len(lines) == 0 {
		r.health.OK(healthChats)
		return
	}
	sort.Strings(lines)
	r.health.FailedBecause(healthChats, strings.Join(lines, "; "))
}

// unknownChat is a username Telegram answered about and does not resolve: asking again will
// not help.
type unknownChat struct{ why string }

func (e *unknownChat) Error() string { return e.why }

// resolve returns the chat id of @username: the one stored, or getChat's, then stored.
func (r *chatResolver) resolve(ctx context.Context, username string) (int64, error) {
	if id, found, err := r.st.ResolvedChatUsername(ctx, username); err != nil {
		return 0, err
	} else if found {
		return id, nil
	}
	cctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	chat, err := r.api.GetChat(cctx, &tgbot.GetChatParams{ChatID: username})
	cancel()
	if err != nil {
		msg := bot.Redact(err.Error(), r.api.Token())
		if errors.Is(err, tgbot.ErrorBadRequest) || errors.Is(err, tgbot.ErrorForbidden) || errors.Is(err, tgbot.ErrorNotFound) {
			return 0, &unknownChat{why: "Telegram does not know this chat (getChat: " + msg + ")"}
		}
		return 0, errors.New("telegram: getChat: " + msg)
	}
	if chat.ID == 0 {
		return 0, &unknownChat{why: "Telegram answered getChat without a chat id"}
	}
	title := chat.Title
	if err := r.st.SaveResolvedChatUsername(ctx, username, chat.ID, string(chat.Type), title); err != nil {
		return 0, fmt.Errorf("config: chats: %w", err)
	}
	return chat.ID, nil
}
