package bot

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store/storetest"
)

// Knobs of BenchmarkIntakeFairness, after -args.
var (
	fairStatus   = flag.Duration("fairness.status", 500*time.Millisecond, "how long one /status takes (a slow CI)")
	fairGroup    = flag.Int("fairness.group", 100, "how many /status the group sends at once")
	fairGetIDs   = flag.Int("fairness.getids", 20, "how many /getid the private chat sends (with the rate limit on, at most a person's burst)")
	fairInterval = flag.Duration("fairness.interval", 200*time.Millisecond, "time between two private /getid")
	fairScale    = flag.Float64("fairness.scale", 10, "Telegram's send limits times this, in the fake and the sender (1: the real ones, 1 msg/s per chat)")
)

// BenchmarkIntakeFairness is item 5 of issue 8 measured: one group sends 100 /status to a
// CI that takes half a second each, while one private chat sends a /getid every 200 ms;
// every /getid should be answered within a second or two. It runs the intake as serve does
// (the fake Bot API, a poller, the intake with its default workers and queues, a sender, a
// database of its own) with the rate limit at its defaults and off, since the limit alone
// could hide a queueing problem.
//
//	go test -run '^$' -bench BenchmarkIntakeFairness -benchtime 1x ./bot/
//
// A /getid's latency runs from the user sending it to the fake Bot API receiving herald's
// answer: the long poll, storing the update, the queues, the handler, the outbox and the
// sender. The group's figures are what it got by the time the last /getid was answered.
func BenchmarkIntakeFairness(b *testing.B) {
	for _, c := range []struct {
		name string
		rate RateLimit // for users and chats alike; zero: the defaults
	}{
		{"ratelimit=default", RateLimit{}},
		{"ratelimit=off", RateLimit{Burst: -1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			getids := *fairGetIDs
			if c.rate.Burst == 0 {
				// One person past DefaultUserRate.Burst commands is dropped by design; that
				// would measure the limit, not the queues.
				getids = min(getids, DefaultUserRate.Burst)
			}
			var all fairnessRun
			for range b.N {
				r := runFairness(b, c.rate, getids)
				all.latencies = append(all.latencies, r.latencies...)
				all.missing += r.missing
				all.statusAnswered += r.statusAnswered
				all.slowDown += r.slowDown
				all.took += r.took
			}
			slices.Sort(all.latencies)
			n := float64(b.N)
			p50, p90, p99, maxL := percentile(all.latencies, 50), percentile(all.latencies, 90), percentile(all.latencies, 99), percentile(all.latencies, 100)
			b.ReportMetric(ms(p50), "ms-p50-getid")
			b.ReportMetric(ms(p90), "ms-p90-getid")
			b.ReportMetric(ms(p99), "ms-p99-getid")
			b.ReportMetric(ms(maxL), "ms-max-getid")
			b.ReportMetric(float64(all.missing)/n, "getid-unanswered")
			b.ReportMetric(float64(all.statusAnswered)/n, "status-answered")
			b.ReportMetric(float64(all.slowDown)/n, "status-slowdown")
			b.Logf("%s: %d×/getid every %s beside %d×/status of %s in a group, limits ×%g: /getid p50 %s p90 %s p99 %s max %s, %d unanswered; group: %d /status answered, %d told to slow down, in %s",
				c.name, getids, *fairInterval, *fairGroup, *fairStatus, *fairScale,
				p50.Round(100*time.Microsecond), p90.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), maxL.Round(100*time.Microsecond),
				all.missing, all.statusAnswered, all.slowDown, (all.took / time.Duration(b.N)).Round(time.Millisecond))
		})
	}
}

// fairnessRun is what one run measured.
type fairnessRun struct {
	latencies      []time.Duration // of the /getid answered
	missing        int             // /getid not answered within the run's bound
	statusAnswered int             // /status answers the group got while the /getid ran
	slowDown       int             // "slow down" answers the group got
	took           time.Duration   // from the group's burst to the last /getid answer
}

// runFairness runs the scenario once on a rig of its own, which it stops before it returns.
func runFairness(b *testing.B, rate RateLimit, getids int) fairnessRun {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu       sync.Mutex
		sentAt   = map[string]time.Time{}     // "/getid n" → when the user sent it
		answered = map[string]time.Duration{} // "id n" → its latency
		allIn    = make(chan struct{})
		res      fairnessRun
	)
	onMessage := func(m telegramtest.Message) {
		mu.Lock()
		defer mu.Unlock()
		switch text := m.Text; {
		case m.Edits > 0:
		case m.ChatID == group.ID && strings.HasPrefix(text, "status "):
			res.statusAnswered++
		case m.ChatID == group.ID && strings.HasPrefix(text, "Slow down"):
			res.slowDown++
		case m.ChatID == bob.ID && strings.HasPrefix(text, "id "):
			key := strings.TrimPrefix(text, "id ")
			if at, ok := sentAt[key]; ok {
				if _, dup := answered[key]; !dup {
					answered[key] = time.Since(at)
					if len(answered) == getids {
						close(allIn)
					}
				}
			}
		}
	}
	limits := &telegramtest.Limits{Global: int(30 * *fairScale), PerChatPerSecond: max(1, int(*fairScale)), PerGroupPerMinute: int(20 * *fairScale)}
	tg := telegramtest.New(telegramtest.Options{Token: testToken, Limits: limits, OnMessage: onMessage})
	defer tg.Close()
	api, err := tgbot.New(testToken, tgbot.WithServerURL(tg.URL()), tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(time.Second, &http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		b.Fatalf("tgbot.New: %v", err)
	}
	st := storetest.New(b)
	log := zerolog.New(io.Discard)
	sender := NewSender(st, api, SenderOptions{Global: 30 * *fairScale, PerChatPerSecond: *fairScale, PerGroupPerMinute: 20 * *fairScale,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}, log)
	handler := handlerMap{
		"status": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			select {
			case <-time.After(*fairStatus):
			case <-ctx.Done():
			}
			return commands.Say("status " + strings.Join(req.Args, " ")), nil
		},
		"getid": func(ctx context.Context, req commands.Request) (commands.Response, error) {
			return commands.Say("id " + strings.Join(req.Args, " ")), nil
		},
	}
	in := NewIntake(st, api, handler, func() string { return "herald_bot" }, IntakeOptions{UserRate: rate, ChatRate: rate}, log)
	poller := NewPoller(st, api, in, tg.URL(), time.Second, log)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{sender.Run, in.Run, poller.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()

	// Warm up (first connections, the sender's first read) in a chat of its own.
	carol := telegramtest.User{ID: 44, FirstName: "Carol", Username: "carol"}
	tg.SendText(telegramtest.PrivateChat(carol), carol, "/getid warm-up")
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = tg.WaitMessages(wctx, carol.ID, 1)
	wcancel()
	if err != nil {
		b.Fatalf("warm-up /getid not answered: %v", err)
	}

	// The group's members take turns, so the chat's limit is the one that bites, not one
	// person's.
	members := make([]telegramtest.User, 10)
	for i := range members {
		members[i] = telegramtest.User{ID: int64(1000 + i), FirstName: fmt.Sprint("member ", i)}
	}
	start := time.Now()
	for i := 1; i <= *fairGroup; i++ {
		tg.SendText(group, members[i%len(members)], fmt.Sprintf("/status %d", i))
	}
	tick := time.NewTicker(*fairInterval)
	defer tick.Stop()
	for i := 1; i <= getids; i++ {
		if i > 1 {
			<-tick.C
		}
		key := strconv.Itoa(i)
		mu.Lock()
		sentAt[key] = time.Now()
		mu.Unlock()
		tg.SendText(telegramtest.PrivateChat(bob), bob, "/getid "+key)
	}
	// Bounded: a /getid not answered 20 s after the last one was sent counts as unanswered.
	select {
	case <-allIn:
	case <-time.After(20 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	res.took = time.Since(start)
	for _, l := range answered {
		res.latencies = append(res.latencies, l)
	}
	res.missing = getids - len(answered)
	return res
}

// percentile is the nearest-rank p-th percentile of sorted (p 100: the largest).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
