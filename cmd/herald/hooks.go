package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/hook"
	"github.com/herald-ci/herald/store"
)

// checkProviders are the providers of the config's check hooks, for newProviders: each is a
// CI connection of its own (named after the hook), so the watcher loop follows it like any
// other (its silence watch runs in the one replica that follows it), /status and /last list
// its checks, and its results are classified into problem and recovery. They read their
// results from the store once hookRoutes attached it.
func checkProviders(cfg *Config, log zerolog.Logger) ([]ci.Provider, error) {
	hooks, err := cfg.compileHooks(nil)
	if err != nil {
		return nil, err
	}
	var out []ci.Provider
	for _, h := range hooks {
		if h.IsCheck() {
			out = append(out, hook.NewCheck(h))
		}
	}
	return out, nil
}

// hookRoutes mounts POST /hooks/{name}: message hooks store and queue their messages, check
// hooks hand their results to sink (the notifier, as CI webhooks do). It attaches the store
// to the check providers among providers and records the hooks (seeding their fixed chats
// once), so /notify on hook:NAME knows them.
func (a *App) hookRoutes(ctx context.Context, mux *http.ServeMux, st *store.Store, providers []ci.Provider, sink ci.EventSink) error {
	hooks, err := a.Config.compileHooks(nil)
	if err != nil {
		return err
	}
	var checks []*hook.Check
	for _, p := range providers {
		if c, ok := p.(*hook.Check); ok {
			c.Attach(st)
			checks = append(checks, c)
		}
	}
	var defs []store.HookDef
	var served []*hook.Hook
	for _, h := range hooks {
		cfg := h.Config()
		defs = append(defs, store.HookDef{Name: cfg.Name, Kind: cfg.Kind, AllowChats: cfg.AllowChats, Chats: cfg.Chats})
		if h.IsCheck() {
			// The provider's own compiled hook, so the two never disagree.
			for _, c := range checks {
				if c.Name() == h.Name() {
					h = c.Hook()
				}
			}
		}
		served = append(served, h)
	}
	if err := st.RegisterHooks(ctx, defs); err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	mux.Handle("POST /hooks/{name}", hook.NewHandler(served, checks, st, sink, nil, a.Log.With().Str("part", "hooks").Logger()))
	return nil
}
