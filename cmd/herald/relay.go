package main

import (
	"net/http"

	"github.com/herald-ci/herald/bot/relay"
	"github.com/herald-ci/herald/store"
)

// relayRoutes mounts the Bot API relay at /relay/<token>/<method> when relay tokens are
// configured. Any method (GET or POST) reaches it, as any reaches Telegram. It needs no
// sender here: a relayed call's outbox NOTIFY wakes the sender, in whichever process it runs.
func (a *App) relayRoutes(mux *http.ServeMux, st *store.Store) {
	if len(a.Config.Relay.Tokens) == 0 {
		return
	}
	mux.Handle("/relay/", relay.New(st, relay.Options{Tokens: a.Config.RelayTokens()}, a.Log.With().Str("part", "relay").Logger()))
}
