package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/store"
)

// routes mounts herald's own endpoints. The Telegram webhook is added by Run when enabled.
func (a *App) routes(mux *http.ServeMux, st *store.Store, api *tgbot.Bot, sender *bot.Sender) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "telegram": "ok"}
		status := http.StatusOK
		if err := st.Ping(ctx); err != nil {
			checks["database"], status = "unreachable", http.StatusServiceUnavailable
		}
		if _, err := api.GetMe(ctx); err != nil {
			checks["telegram"], status = "unreachable", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(checks)
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(sender.Metrics())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}
