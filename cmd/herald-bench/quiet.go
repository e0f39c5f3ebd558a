package main

// The figures of issue 12 (timely and quiet), items 1 and 2, with the real notifier and
// sender against the fake Bot API at -scale times Telegram's limits:
//
//	replies: reply latency (enqueued → sendMessage at the Bot API) of commands answered
//	         every -reply-every while one event fans out to -chats chats: p50, p99, max.
//	bursts:  bursts of 10, 50 and 200 problems (one per builder) into 1, 20 and 300 group
//	         chats subscribed to problem, with grouping off and with a 5 s window: messages
//	         sent (and edits), and time-to-informed, from the first event to the moment the
//	         last chat shows every event (named, or counted in "… and N more").

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// startQuietRig is startRig with the grouping window set.
func startQuietRig(st *store.Store, c config, window time.Duration, onMessage func(telegramtest.Message)) (*rig, error) {
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
		Workers: 16, GroupWindow: window,
	}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return &rig{tg: tg, sender: s, stop: func() { cancel(); <-done; tg.Close() }}, nil
}

var replyEvery = flag.Duration("reply-every", 100*time.Millisecond, "how often a command is answered during the replies figure's fan-out")

// replyChats are the private chats the replies of the replies figure go to, one each.
const replyChats = 900_000_000

// replyFigure: commands answered while one event fans out to c.chats chats.
func replyFigure(ctx context.Context, st *store.Store, c config) error {
	if err := subscribe(ctx, st, 1, c.chats, []string{"finished"}); err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		asked   = map[int64]time.Time{}
		lat     []time.Duration
		fanned  int
		fanDone = make(chan time.Time, 1)
	)
	r, err := startQuietRig(st, c, 0, func(m telegramtest.Message) {
		mu.Lock()
		defer mu.Unlock()
		if at, ok := asked[m.ChatID]; ok {
			lat = append(lat, time.Since(at))
			delete(asked, m.ChatID)
			return
		}
		if fanned++; fanned == c.chats {
			fanDone <- time.Now()
		}
	})
	if err != nil {
		return err
	}
	defer r.stop()
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: r.sender.Wake}, zerolog.Nop())
	start := time.Now()
	if err := n.Deliver(ctx, finished("linux", ci.ResultFailure)); err != nil {
		return err
	}
	tick := time.NewTicker(*replyEvery)
	defer tick.Stop()
	var end time.Time
	for i := int64(1); end.IsZero(); i++ {
		select {
		case end = <-fanDone:
			continue
		case <-tick.C:
		case <-time.After(10 * time.Minute):
			return fmt.Errorf("the fan-out did not end")
		}
		chat := replyChats + i
		mu.Lock()
		asked[chat] = time.Now()
		mu.Unlock()
		if err := st.Enqueue(ctx, store.OutMessage{ChatID: chat, Text: fmt.Sprintf("Your ID is <code>%d</code>.", chat), UpdateID: i}); err != nil {
			return err
		}
		r.sender.Wake() // as the intake does in the sender's process
	}
	time.Sleep(2 * time.Second) // the last replies asked
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		return fmt.Errorf("no reply arrived")
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Printf("replies: %d commands answered during a fan-out to %d chats (%v, %d 429s): reply latency p50 %v, p99 %v, max %v; %d unanswered\n",
		len(lat), c.chats, end.Sub(start).Round(time.Millisecond), r.tg.Stats().RateLimited,
		p(0.5).Round(time.Millisecond), p(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), len(asked))
	return nil
}

// burstGroups are the group chats of the bursts figure: -burstGroups-1, -burstGroups-2, …
const burstGroups = 1_000_000_000

var moreRe = regexp.MustCompile(`… and (\d+) more`)

// informedTracker follows what each chat's messages show, as they stand after edits.
type informedTracker struct {
	mu       sync.Mutex
	events   int
	names    []string                  // "<b>bNNN</b>" of each event
	named    map[int64]map[string]bool // chat → builders named by any message
	more     map[int64]map[int]int     // chat → message id → its "and N more"
	informed map[int64]time.Time       // chat → when it showed every event
	done     chan struct{}
	chats    int
}

func newInformedTracker(events, chats int) *informedTracker {
	t := &informedTracker{events: events, chats: chats, done: make(chan struct{}),
		named: map[int64]map[string]bool{}, more: map[int64]map[int]int{}, informed: map[int64]time.Time{}}
	for i := 1; i <= events; i++ {
		t.names = append(t.names, fmt.Sprintf("<b>b%03d</b>", i))
	}
	return t
}

func (t *informedTracker) see(m telegramtest.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.informed[m.ChatID]; ok {
		return
	}
	named := t.named[m.ChatID]
	if named == nil {
		named = map[string]bool{}
		t.named[m.ChatID], t.more[m.ChatID] = named, map[int]int{}
	}
	for _, n := range t.names {
		if !named[n] && strings.Contains(m.Text, n) {
			named[n] = true
		}
	}
	t.more[m.ChatID][m.MessageID] = 0
	if sm := moreRe.FindStringSubmatch(m.Text); sm != nil {
		k, _ := strconv.Atoi(sm[1])
		t.more[m.ChatID][m.MessageID] = k
	}
	total := len(named)
	for _, k := range t.more[m.ChatID] {
		total += k
	}
	if total >= t.events {
		t.informed[m.ChatID] = time.Now()
		if len(t.informed) == t.chats {
			close(t.done)
		}
	}
}

// burstFigure: bursts of problems into group chats, with and without grouping.
func burstFigure(ctx context.Context, _ *store.Store, c config) error {
	chatsList, err := ints(*burstChats)
	if err != nil {
		return err
	}
	eventsList, err := ints(*burstEvents)
	if err != nil {
		return err
	}
	var windows []time.Duration
	for _, f := range strings.Split(*burstWindows, ",") {
		w, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || w < 0 {
			return fmt.Errorf("-burst-windows %q: want durations like 0s,5s", *burstWindows)
		}
		windows = append(windows, w)
	}
	for _, chats := range chatsList {
		for _, events := range eventsList {
			for _, window := range windows {
				if err := oneBurst(ctx, c, chats, events, window); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var (
	burstChats   = flag.String("burst-chats", "1,20,300", "the bursts figure's numbers of group chats")
	burstEvents  = flag.String("burst-events", "10,50,200", "the bursts figure's numbers of events per burst")
	burstWindows = flag.String("burst-windows", "0s,5s", "the bursts figure's grouping windows (0s: off)")
)

func ints(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a list of positive numbers", list)
		}
		out = append(out, n)
	}
	return out, nil
}

func oneBurst(ctx context.Context, c config, chats, events int, window time.Duration) error {
	st, drop, err := freshStore(ctx)
	if err != nil {
		return err
	}
	defer drop()
	defer st.Close()
	_, err = st.Pool().Exec(ctx, `
		WITH c AS (INSERT INTO chats (id, type, card_mode) SELECT -($1::bigint + g), 'supergroup', 'new' FROM generate_series(1, $2::bigint) g RETURNING id)
		INSERT INTO subscriptions (chat_id, events) SELECT id, '{problem}' FROM c`, burstGroups, chats)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	// The builders were green: nobody is told of that, and the failures are problems.
	quiet := bot.NewNotifier(st, bot.NotifyOptions{Wake: func() {}}, zerolog.Nop())
	for i := 1; i <= events; i++ {
		if err := quiet.Deliver(ctx, finished(fmt.Sprintf("b%03d", i), ci.ResultSuccess)); err != nil {
			return err
		}
	}
	tr := newInformedTracker(events, chats)
	r, err := startQuietRig(st, c, window, tr.see)
	if err != nil {
		return err
	}
	defer r.stop()
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: r.sender.Wake}, zerolog.Nop())
	start := time.Now()
	for i := 1; i <= events; i++ {
		if err := n.Deliver(ctx, finished(fmt.Sprintf("b%03d", i), ci.ResultFailure)); err != nil {
			return err
		}
	}
	select {
	case <-tr.done:
	case <-time.After(30 * time.Minute):
		return fmt.Errorf("burst of %d into %d chats: not every chat was told", events, chats)
	}
	informed := time.Since(start)
	for {
		// Edits still queued (a group's later rows) are sent too: count them.
		if d, err := st.OutboxDepth(ctx); err != nil || d == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	stats := r.tg.Stats()
	edits := 0
	for i := 1; i <= chats; i++ {
		for _, m := range r.tg.Messages(-int64(burstGroups + i)) {
			edits += m.Edits
		}
	}
	mode := "grouping off"
	if window > 0 {
		mode = fmt.Sprintf("group_window %v", window)
	}
	fmt.Printf("bursts: %3d problems into %3d groups, %-16s: %6d messages (%.1f per chat), %5d edits, informed in %v, %d 429s\n",
		events, chats, mode, stats.Sent, float64(stats.Sent)/float64(chats), edits, informed.Round(100*time.Millisecond), stats.RateLimited)
	return nil
}
