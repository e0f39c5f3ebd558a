// Command herald-bench measures notification delivery against the fake Bot API with
// Telegram's limits enforced, and prints the four figures of the delivery issue:
//
//	go run ./cmd/herald-bench                 # limits scaled 10x: about a minute
//	go run ./cmd/herald-bench -scale 1        # Telegram's real limits: the 3,000-chat run takes 100 s
//
// It creates (and drops) its own database through the admin URL in HERALD_TEST_DATABASE_URL,
// or postgres@127.0.0.1:5432 like the tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

const token = "1000:bench-token"

type config struct {
	chats, latencyEvents, intakeEvents, intakeWorkers, rssChats int
	scale                                                       float64
	only, cpuProfile                                            string
}

func main() {
	var c config
	flag.IntVar(&c.chats, "chats", 3000, "chats subscribed for the fan-out run")
	flag.Float64Var(&c.scale, "scale", 10, "multiply Telegram's limits (fake and sender) by this, to run faster")
	flag.IntVar(&c.latencyEvents, "latency-events", 200, "events for the unloaded latency run")
	flag.IntVar(&c.intakeEvents, "intake-events", 5000, "events for the intake run")
	flag.IntVar(&c.intakeWorkers, "intake-workers", 4, "concurrent deliveries in the intake run")
	flag.IntVar(&c.rssChats, "rss-chats", 10000, "chats subscribed for the memory run")
	flag.StringVar(&c.only, "only", "", "run one figure: fanout, latency, intake, webhook, rss, relay, hooks, failover or replicas")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	flag.Parse()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "herald-bench: cpu profile:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(context.Background(), c); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "herald-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	fmt.Printf("herald-bench: limits x%g (global %g/s, %g/s per chat, %g/min per group)\n",
		c.scale, 30*c.scale, 1*c.scale, 20*c.scale)
	steps := []struct {
		name string
		fn   func(context.Context, *store.Store, config) error
	}{
		{"fanout", fanout}, {"latency", latency}, {"intake", intake}, {"webhook", webhookIntake}, {"rss", rss},
		{"relay", relayBurst}, {"hooks", hookIntakeFigure},
		{"replies", replyFigure}, {"bursts", burstFigure}, // issue 12: replies first, grouping (quiet.go)
		{"failover", failover}, {"replicas", replicasFigure}, // herald processes, real limits (replicas.go)
	}
	for _, s := range steps {
		if c.only != "" && c.only != s.name {
			continue
		}
		st, drop, err := freshStore(ctx)
		if err != nil {
			return err
		}
		err = s.fn(ctx, st, c)
		st.Close()
		drop()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// rig is a fake Bot API with scaled limits and a sender running against it.
type rig struct {
	tg     *telegramtest.Server
	sender *bot.Sender
	stop   func()
}

func startRig(st *store.Store, c config, onMessage func(telegramtest.Message)) (*rig, error) {
	lim := &telegramtest.Limits{Global: int(30 * c.scale), PerChatPerSecond: max(1, int(c.scale)), PerGroupPerMinute: int(20 * c.scale)}
	tg := telegramtest.New(telegramtest.Options{Token: token, Limits: lim, OnMessage: onMessage})
	api, err := tgbot.New(token, tgbot.WithServerURL(tg.URL()), tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(time.Second, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}))
	if err != nil {
		tg.Close()
		return nil, fmt.Errorf("telegram client: %w", err)
	}
	s := bot.NewSender(st, api, bot.SenderOptions{
		Global: float64(lim.Global), PerChatPerSecond: float64(lim.PerChatPerSecond), PerGroupPerMinute: float64(lim.PerGroupPerMinute),
		Workers: 16,
	}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return &rig{tg: tg, sender: s, stop: func() { cancel(); <-done; tg.Close() }}, nil
}

// freshStore creates a migrated database of its own and a function that drops it.
func freshStore(ctx context.Context) (*store.Store, func(), error) {
	dbURL, drop, err := storetest.Create(ctx, "herald_bench_")
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, dbURL)
	if err == nil {
		_, err = st.Migrate(ctx)
	}
	if err != nil {
		drop()
		return nil, nil, err
	}
	return st, drop, nil
}
