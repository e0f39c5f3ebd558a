package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// subscribe makes n chats (private ones, ids 1..n, and so only the per-chat and global
// limits apply, as in the broadcast) subscribed to events.
func subscribe(ctx context.Context, st *store.Store, first, n int, events []string) error {
	_, err := st.Pool().Exec(ctx, `
		WITH c AS (INSERT INTO chats (id, type) SELECT g, 'private' FROM generate_series($1::bigint, $2::bigint) g RETURNING id)
		INSERT INTO subscriptions (chat_id, events) SELECT id, $3 FROM c`, first, first+n-1, events)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

var buildSeq atomic.Int64

func finished(builder string, res ci.Result) ci.Event {
	id := buildSeq.Add(1)
	now := time.Now()
	b := ci.Build{Conn: "bb", ID: fmt.Sprint(id), Number: int(id), Builder: builder, Branch: "main",
		Revision: "0123456789abcdef", Owner: "bench", StartedAt: now.Add(-time.Minute), FinishedAt: now,
		Complete: true, Result: res, URL: fmt.Sprintf("http://ci.example/builds/%d", id)}
	return ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &b, At: now}
}

// fanout: one event to c.chats chats, against the limit-optimal time.
func fanout(ctx context.Context, st *store.Store, c config) error {
	if err := subscribe(ctx, st, 1, c.chats, []string{"finished"}); err != nil {
		return err
	}
	var got atomic.Int64
	var last atomic.Int64
	r, err := startRig(st, c, func(m telegramtest.Message) {
		got.Add(1)
		last.Store(time.Now().UnixNano())
	})
	if err != nil {
		return err
	}
	defer r.stop()
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: r.sender.Wake}, zerolog.Nop())
	start := time.Now()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := n.Deliver(ctx, finished("linux", ci.ResultFailure)); err != nil {
		return err
	}
	// The event's own transaction: stages, formatting and the outbox rows, before any send.
	deliverTook := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	deadline := time.Now().Add(time.Duration(float64(c.chats)/(30*c.scale)*3+30) * time.Second)
	for got.Load() < int64(c.chats) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // anything sent twice would show now
	elapsed := time.Unix(0, last.Load()).Sub(start)
	optimal := time.Duration(float64(c.chats) / (30 * c.scale) * float64(time.Second))
	stats := r.tg.Stats()
	lost := c.chats - distinctChats(r.tg.AllSent())
	// A sliding one-second window lets the first second's worth go at once, so the
	// fastest any sender can be is one second less than chats/rate.
	window := time.Duration(int((float64(c.chats)-1)/(30*c.scale))) * time.Second
	fmt.Printf("fan-out: 1 event to %d chats: %v (optimal %v, ratio %.3f; sliding-window optimum %v, ratio %.3f), sent %d, lost %d, duplicates %d, 429s %d\n",
		c.chats, elapsed.Round(time.Millisecond), optimal, elapsed.Seconds()/optimal.Seconds(), window, elapsed.Seconds()/window.Seconds(),
		stats.Sent, lost, stats.Sent-(c.chats-lost), stats.RateLimited)
	fmt.Printf("fan-out: Deliver of that event (stored, %d messages queued) took %v, %d allocations in the whole process\n",
		c.chats, deliverTook.Round(time.Millisecond), after.Mallocs-before.Mallocs)
	return nil
}

func distinctChats(ms []telegramtest.Message) int {
	seen := map[int64]bool{}
	for _, m := range ms {
		seen[m.ChatID] = true
	}
	return len(seen)
}

// latency: unloaded, from Deliver being called to the fake receiving sendMessage.
func latency(ctx context.Context, st *store.Store, c config) error {
	if err := subscribe(ctx, st, 1, c.latencyEvents, []string{"finished"}); err != nil {
		return err
	}
	// Chat i subscribes to builder bi only, so event i goes to exactly chat i.
	if _, err := st.Pool().Exec(ctx, `UPDATE subscriptions SET builders = ARRAY['b' || chat_id]`); err != nil {
		return err
	}
	arrived := make(chan time.Time, c.latencyEvents)
	r, err := startRig(st, c, func(telegramtest.Message) { arrived <- time.Now() })
	if err != nil {
		return err
	}
	defer r.stop()
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: r.sender.Wake}, zerolog.Nop())
	var lat []time.Duration
	for i := 1; i <= c.latencyEvents; i++ {
		ev := finished(fmt.Sprintf("b%d", i), ci.ResultSuccess)
		start := time.Now()
		if err := n.Deliver(ctx, ev); err != nil {
			return err
		}
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(start))
		case <-time.After(30 * time.Second):
			return fmt.Errorf("event %d never arrived", i)
		}
		time.Sleep(50 * time.Millisecond) // unloaded: well under every limit
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("latency: event -> sendMessage at the Bot API, %d events unloaded: p50 %v, p99 %v, max %v\n",
		len(lat), p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	return nil
}

// intake: events stored, classified, matched and their messages committed, per second.
func intake(ctx context.Context, st *store.Store, c config) error {
	if err := subscribe(ctx, st, 1, 10, []string{"failure", "problem", "recovery"}); err != nil {
		return err
	}
	if err := subscribe(ctx, st, 11, 10, []string{"finished"}); err != nil {
		return err
	}
	// In herald the sender's Wake goes here; no sender runs in this figure.
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: func() {}}, zerolog.Nop())
	deliver := n.Deliver
	results := []ci.Result{ci.ResultSuccess, ci.ResultFailure, ci.ResultSuccess, ci.ResultWarnings}
	elapsed, err := inParallel(c.intakeEvents, c.intakeWorkers, func(i int) error {
		return deliver(ctx, finished(fmt.Sprintf("builder-%d", i%64), results[i%len(results)]))
	})
	if err != nil {
		return err
	}
	depth, err := st.OutboxDepth(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("intake: %d events (20 chats subscribed, %d concurrent) in %v: %.0f events/s, %d messages queued\n",
		c.intakeEvents, c.intakeWorkers, elapsed.Round(time.Millisecond), float64(c.intakeEvents)/elapsed.Seconds(), depth)
	return nil
}

// rss: memory with c.rssChats chats subscribed and an event to all of them queued in the
// sender. The fake Bot API runs in this process too and holds every send, so it stores
// nothing; the figure is the whole process.
func rss(ctx context.Context, st *store.Store, c config) error {
	if err := subscribe(ctx, st, 1, c.rssChats, []string{"finished"}); err != nil {
		return err
	}
	r, err := startRig(st, c, nil)
	if err != nil {
		return err
	}
	r.tg.HoldSends(true)
	defer func() { r.tg.HoldSends(false); r.stop() }()
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: r.sender.Wake}, zerolog.Nop())
	if err := n.Deliver(ctx, finished("linux", ci.ResultFailure)); err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // the sender claims and schedules every row
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("memory: %d chats subscribed, %d messages queued in the sender: RSS %s (peak %s), Go heap %.1f MB\n",
		c.rssChats, c.rssChats, procStatus("VmRSS"), procStatus("VmHWM"), float64(ms.HeapAlloc)/1e6)
	return nil
}

func procStatus(key string) string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// inParallel runs do(0..n-1) on workers goroutines, as many deliveries at once, and says how
// long all of them took; it stops at the first error.
func inParallel(n, workers int, do func(i int) error) (time.Duration, error) {
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}
