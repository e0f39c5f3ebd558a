package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/webhook"
	"github.com/herald-ci/herald/store"
)

// HTTP server limits. A client that opens connections and sends nothing, sends slowly or
// keeps idle keep-alives open would otherwise hold them (and a goroutine each) for ever.
// The handlers' budget is what the slowest one needs: the Telegram webhook answers only once
// the update is stored, which waits for the database; a handler past it answers 503 (for
// Telegram: send again later). The write timeout stays well above the budget so that answer
// still goes out.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second // a body: an update is at most 1 MB
	httpHandlerBudget     = 60 * time.Second
	httpWriteTimeout      = httpHandlerBudget + 30*time.Second
	httpIdleTimeout       = 2 * time.Minute
	httpMaxHeaderBytes    = 64 << 10 // Telegram's and a probe's headers are a few hundred bytes
)

// newHTTPServer is an http.Server with herald's limits.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           http.TimeoutHandler(h, httpHandlerBudget, "herald: the request took too long\n"),
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
	}
}

// serveHTTP listens on addr (over TLS with tlsCfg), stores the address it got in where, and serves h as a part
// of group: a server that fails while herald runs stops herald.
func (a *App) serveHTTP(group *parts, name, addr string, tlsCfg *tls.Config, h http.Handler, where *atomic.Value) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w", addr, err)
	}
	if tlsCfg != nil { // http.tls: HTTPS on the same address
		ln = tls.NewListener(ln, tlsCfg)
	}
	where.Store(ln.Addr().String())
	srv := newHTTPServer(h)
	srv.ErrorLog = httpErrorLog(a.Log) // tlsreload.go: failed handshakes into herald's log
	group.Go(name, func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return srv, nil
}

// routes mounts herald's own endpoints but /metrics (metricsHandler, mounted where
// http.metrics_listen says). The Telegram webhook is added by Run when enabled.
func (a *App) routes(mux *http.ServeMux, st *store.Store, health *bot.Health, roles *roleRunner) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	// Ready is answered from what the poller, the sender and the webhook registration last
	// saw of Telegram (bot.Health), not from a call per probe: a probe every few seconds
	// would spend the bot's requests and prove only that getMe works. The database is
	// asked: a ping is cheap and local.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "telegram": "ok"}
		status := http.StatusOK
		if err := st.Ping(ctx); err != nil {
			checks["database"], status = "unreachable", http.StatusServiceUnavailable
		}
		switch {
		case !roles.leaseUp.Load():
			// It holds no role and takes none until the lease connection is back; it still
			// stores what it receives, but say so.
			checks["lease"], status = "lost; reconnecting", http.StatusServiceUnavailable
		case !roles.tried.Load():
			checks["lease"], status = "roles not tried yet", http.StatusServiceUnavailable
		}
		if ok, problems := health.Check(); !ok {
			checks["telegram"], status = strings.Join(problems, "; "), http.StatusServiceUnavailable
		}
		// Which roles this process holds: a replica holding none is ready too (it takes
		// webhooks and stands by).
		body := map[string]any{"roles": roles.Held()}
		for k, v := range checks {
			body[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
}

// ciWebhooks mounts POST /ci/{conn}/webhook, where the connections whose provider parses
// webhooks take them (every other name answers 404). Their events go to sink, the same path as
// streamed ones, so a webhook and the follower that finds the same build store it once.
func (a *App) ciWebhooks(mux *http.ServeMux, st *store.Store, providers []ci.Provider, sink ci.EventSink) {
	h := webhook.New(webhookParsers(providers), sink, st, webhook.Options{}, a.Log.With().Str("part", "ci webhook").Logger())
	mux.Handle("POST /ci/{conn}/webhook", h)
}

// metricsHandler serves the process's, the sender's (while this process holds the role) and
// the roles' metrics.
func (a *App) metricsHandler(sender *bot.Metrics, roles prometheus.Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(sender, roles)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
