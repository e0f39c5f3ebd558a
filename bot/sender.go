package bot

import (
	"container/heap"
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// SenderOptions tune the sender. Zero values take the defaults, which are Telegram's limits.
type SenderOptions struct {
	Global            float64 // messages per second over all chats; default 30
	PerChatPerSecond  float64 // per chat; default 1
	PerGroupPerMinute float64 // per group, supergroup or channel; default 20
	Clock             func() time.Time
	Workers           int           // sends in flight at once, each to a different chat; default 8
	MaxInMemory       int           // outbox rows held in memory; default 20000
	PollInterval      time.Duration // safety net besides LISTEN/NOTIFY; default 2s
	MinBackoff        time.Duration // first retry after a 5xx or network error; default 500ms
	MaxBackoff        time.Duration // cap on the backoff; default 10s
	SendTimeout       time.Duration // one HTTP request to Telegram; default 30s
	Metrics           *Metrics      // nil keeps a private set
	// APIURL is the Bot API server; empty means the one api was made for.
	APIURL string
	// Health, if set, hears of every send as part "sender": whether Telegram answered.
	Health *Health
	// Process is the id of this process's lease (store.Lessee.ID): the owner named by the
	// outbox rows this sender claims. A starting sender takes back only the claims of
	// processes that are gone and waits for a live one to finish, so a handover of the sender
	// role sends nothing twice and keeps each chat's order. 0 is no process, never alive: a
	// sender without a lease (tests, the benchmark) is alone on its database, and whatever
	// it still holds when it stops is taken back by the next sender to start.
	Process int32
	// GroupWindow is notifications.group_window: rows of one chat and topic with the same
	// group key (store.OutMessage.GroupKey) that go out within it of the group message's
	// last update become that one message, edited as they come (for at most ten windows
	// from its first send). Zero turns grouping off (the config's default is 5s).
	GroupWindow time.Duration
}

func (o *SenderOptions) defaults() {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.Global, 30)
	def(&o.PerChatPerSecond, 1)
	def(&o.PerGroupPerMinute, 20)
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.MaxInMemory <= 0 {
		o.MaxInMemory = 20000
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
}

// Sender is the only path from herald to Telegram for outgoing messages. It takes rows from
// the outbox, keeps each chat's messages in order (a chat's next message waits for the
// previous one), spreads sends fairly over chats within Telegram's limits, and deletes a row
// only once Telegram accepted it. One sender runs per database at a time (the process holding
// the sender role); a Sender is made for each term of the role and Run once.
type Sender struct {
	st   *store.Store
	api  *tgbot.Bot
	opts SenderOptions
	log  zerolog.Logger

	tg   *rawAPI
	held atomic.Int64 // rows claimed and not yet done, shared with the loader
	wake chan struct{}
}

// Wake makes the sender look at the outbox now. The notifier calls it after committing
// (NotifyOptions.Wake); it never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// NewSender makes a sender; Run starts it.
func NewSender(st *store.Store, api *tgbot.Bot, opts SenderOptions, log zerolog.Logger) *Sender {
	opts.defaults()
	// Not ready until its start-up reads work: a sender that cannot read the outbox sends
	// nothing, however well Telegram answers.
	opts.Health.ExpectStart(healthSender)
	return &Sender{st: st, api: api, tg: newRawAPI(api.Token(), serverURL(api, opts.APIURL), opts.Workers), opts: opts, log: log, wake: make(chan struct{}, 1)}
}

// Metrics gives the sender's metrics, to register with Prometheus.
func (s *Sender) Metrics() *Metrics { return s.opts.Metrics }

// sendQueue is one chat's messages in id order; the head goes next.
type sendQueue struct {
	id        int64
	msgs      []store.Queued
	inflight  bool
	notBefore time.Time // retry_after or backoff
	failures  int       // consecutive retryable failures, for backoff
	readyAt   time.Time
	seq       uint64 // tie-break: chats that became ready earlier go first
	index     int    // in the ready heap of its class, -1 when not in any
	class     int    // the heap it is in: the class of its head (classOf)
}

// Dispatch classes, first served first: a command's reply ahead of every notification
// (within the same global budget: Telegram's 30/s is the bot's), a failure ahead of other
// notifications. Each class has its own ready heap, so a reply never waits behind the
// thousands of chats a fan-out made ready before it; within a class chats take turns.
const (
	classInteractive = iota
	classProblem
	classNormal
	numClasses
)

func classOf(q store.Queued) int {
	switch {
	case q.Interactive():
		return classInteractive
	case q.Priority >= store.PriorityProblem:
		return classProblem
	}
	return classNormal
}

type readyHeap []*sendQueue

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	if !h[i].readyAt.Equal(h[j].readyAt) {
		return h[i].readyAt.Before(h[j].readyAt)
	}
	return h[i].seq < h[j].seq
}
func (h readyHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *readyHeap) Push(x any)   { c := x.(*sendQueue); c.index = len(*h); *h = append(*h, c) }
func (h *readyHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.index = -1
	return c
}

// dispatcher is the state of Run's loop; only that goroutine touches it.
type dispatcher struct {
	s      *Sender
	lim    *limiter
	chats  map[int64]*sendQueue
	ready  [numClasses]readyHeap
	seq    uint64
	free   int
	jobs   chan job
	result chan outcome
}

// Run sends until ctx ends, then waits for the sends in flight to finish and be recorded,
// and hands the rows it held but did not send back to the outbox (ReleaseOwnClaims) for the
// next sender, in this process or another. It starts by taking over (takeOver): the claims
// of processes that are gone come back, and it waits while a live process still holds
// some. Its start-up reads are retried until they work (retryStart), so it returns only
// when ctx ends, with nil.
func (s *Sender) Run(ctx context.Context) error {
	held, err := s.takeOver(ctx)
	if err != nil {
		return nil // ctx ended before the sender could start
	}
	var (
		sends []store.Send
		now   time.Time
	)
	// Telegram's windows count every send of the bot, whichever process made it: the send
	// log tells this sender what the previous holder of the role sent in the last minute.
	if err := retryStart(ctx, s.log, "read the last minute's sends", func(ctx context.Context) error {
		var err error
		now = s.opts.Clock()
		sends, err = s.st.RecentSends(ctx, now.Add(-sendLogSpan))
		return err
	}); err != nil {
		return nil
	}
	s.opts.Health.Started(healthSender)
	s.held.Store(0)
	lim := newLimiter(s.opts.Global, s.opts.PerChatPerSecond, s.opts.PerGroupPerMinute)
	lim.seed(sends, held, s.opts.Workers, now)
	s.log.Debug().Int("recent_sends", len(sends)).Int("held_chats", len(held)).Msg("sender: limits seeded from the last minute")
	d := &dispatcher{
		s:      s,
		lim:    lim,
		chats:  map[int64]*sendQueue{},
		free:   s.opts.Workers,
		jobs:   make(chan job, s.opts.Workers),
		result: make(chan outcome, s.opts.Workers),
	}
	wake, poke := s.wake, s.Wake
	loaded := make(chan []store.Queued)

	var wg sync.WaitGroup
	loopCtx, stopAux := context.WithCancel(ctx)
	defer stopAux()
	wg.Add(3)
	go func() { defer wg.Done(); _ = s.st.ListenOutbox(loopCtx, poke, poke) }()
	go func() { defer wg.Done(); s.load(loopCtx, wake, loaded) }()
	go func() { defer wg.Done(); s.pruneSendLog(loopCtx) }()
	var workers sync.WaitGroup
	for range s.opts.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range d.jobs {
				d.result <- s.deliver(ctx, j)
			}
		}()
	}

	d.loop(ctx, loaded, poke)

	close(d.jobs)
	// Drain results of the sends in flight so each is recorded (deliver uses a context
	// that outlives ctx for exactly this).
	go func() { workers.Wait(); close(d.result) }()
	for o := range d.result {
		d.handle(o)
	}
	// The loader must be gone before the claims are handed back: a claim it made after
	// would stay this process's.
	stopAux()
	wg.Wait()
	d.forgetAll()
	s.releaseOwn()
	return nil
}

// forgetAll drops the rows still in memory when Run ends from the depth gauge: the metrics
// outlive this sender (the next term's sender, in this process, counts on them), and those
// rows go back to the outbox for whichever sender comes next.
func (d *dispatcher) forgetAll() {
	n := 0
	for _, c := range d.chats {
		n += len(c.msgs)
	}
	d.s.opts.Metrics.depth.Sub(float64(n))
	d.s.held.Store(0)
}

func (d *dispatcher) loop(ctx context.Context, loaded <-chan []store.Queued, poke func()) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	swept := d.s.opts.Clock()
	for {
		if now := d.s.opts.Clock(); now.Sub(swept) >= sendLogSpan {
			d.lim.sweep(now, func(id int64) bool { return d.chats[id] != nil })
			swept = now
		}
		wait := d.dispatch()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case batch := <-loaded:
			d.add(batch)
		case o := <-d.result:
			d.handle(o)
			if d.s.held.Load() < int64(d.s.opts.MaxInMemory)/2 {
				poke() // room again: the loader may have stopped at the cap
			}
		case <-timer.C:
		}
	}
}

// dispatch hands out every send allowed now and says how long until the next may be.
func (d *dispatcher) dispatch() time.Duration {
	const idle = time.Hour
	for d.free > 0 {
		now := d.s.opts.Clock()
		c, wait := d.next(now)
		if c == nil {
			return wait
		}
		if g := d.lim.globalNext(now, c.class == classInteractive); g.After(now) {
			if g == never {
				return idle // a completion will wake the loop
			}
			return g.Sub(now)
		}
		h := &d.ready[c.class]
		if r := d.readyTime(c, now); r.After(now) {
			c.readyAt = r
			heap.Fix(h, c.index)
			continue
		}
		heap.Pop(h)
		c.inflight = true
		d.lim.reserve(c.id)
		d.free--
		d.jobs <- job{rows: d.groupRows(c)}
	}
	return idle
}

// next is the chat to send to now: the first ready chat of the highest class. With none
// ready it says how long until one may be.
func (d *dispatcher) next(now time.Time) (*sendQueue, time.Duration) {
	wait := time.Hour
	for cls := range d.ready {
		h := d.ready[cls]
		if len(h) == 0 {
			continue
		}
		if !h[0].readyAt.After(now) {
			return h[0], 0
		}
		wait = min(wait, h[0].readyAt.Sub(now))
	}
	return nil, wait
}

func (d *dispatcher) readyTime(c *sendQueue, now time.Time) time.Time {
	t := d.lim.chatNext(c.id, now, len(c.msgs) > 0 && classOf(c.msgs[0]) == classInteractive)
	if c.notBefore.After(t) {
		t = c.notBefore
	}
	return t
}

// schedule puts a chat with messages and nothing in flight into the ready heap.
func (d *dispatcher) schedule(c *sendQueue) {
	if c.inflight || len(c.msgs) == 0 {
		return
	}
	c.readyAt = d.readyTime(c, d.s.opts.Clock())
	cls := classOf(c.msgs[0])
	if c.index >= 0 {
		if c.class == cls {
			heap.Fix(&d.ready[cls], c.index)
			return
		}
		heap.Remove(&d.ready[c.class], c.index)
	}
	d.seq++
	c.seq, c.class = d.seq, cls
	heap.Push(&d.ready[cls], c)
}

func (d *dispatcher) queue(chatID int64) *sendQueue {
	c, ok := d.chats[chatID]
	if !ok {
		c = &sendQueue{id: chatID, index: -1}
		d.chats[chatID] = c
	}
	return c
}

func (d *dispatcher) add(batch []store.Queued) {
	m := d.s.opts.Metrics
	m.queued.Add(float64(len(batch)))
	m.depth.Add(float64(len(batch)))
	touched := map[*sendQueue]bool{}
	for _, q := range batch {
		c := d.queue(q.ChatID)
		c.msgs = append(c.msgs, q)
		touched[c] = true
	}
	for c := range touched {
		d.sortPending(c)
		d.schedule(c)
	}
}

// sortPending keeps a chat's waiting messages in id order, its interactive ones (a reply
// to a command in this chat) ahead of its notifications. A transaction that took its id
// early and committed late can arrive after a later one; the head in flight stays put.
func (d *dispatcher) sortPending(c *sendQueue) {
	from := 0
	if c.inflight {
		from = 1
	}
	rest := c.msgs[from:]
	sort.SliceStable(rest, func(i, j int) bool {
		if a, b := rest[i].Interactive(), rest[j].Interactive(); a != b {
			return a
		}
		return rest[i].ID < rest[j].ID
	})
}

// drop removes the rows ids names from c (the head among them, not in flight any more).
func (c *sendQueue) drop(ids []int64) int {
	kept := c.msgs[:0]
	n := 0
	for _, q := range c.msgs {
		if slices.Contains(ids, q.ID) {
			n++
			continue
		}
		kept = append(kept, q)
	}
	clear(c.msgs[len(kept):])
	c.msgs = kept
	return n
}

// done drops n messages from memory.
func (d *dispatcher) done(n int) {
	d.s.held.Add(-int64(n))
	d.s.opts.Metrics.depth.Sub(float64(n))
}

func (d *dispatcher) handle(o outcome) {
	now := d.s.opts.Clock()
	d.free++
	d.lim.complete(o.chatID, o.at)
	c := d.queue(o.chatID)
	c.inflight = false
	m := d.s.opts.Metrics
	switch o.kind {
	case outSent, outFailed, outDropped, outLost:
		if len(o.ids) > 0 {
			d.done(c.drop(o.ids)) // a group: the head and the rows it carried
		} else {
			c.msgs = c.msgs[1:]
			d.done(1)
		}
		c.failures = 0
	case outRateLimited:
		c.notBefore = now.Add(o.retryAfter)
	case outRetry:
		if o.attempted {
			c.msgs[0].Attempts++ // so the next failure logs the true count
		}
		c.failures++
		c.notBefore = now.Add(backoff(d.s.opts.MinBackoff, d.s.opts.MaxBackoff, c.failures))
	case outPaused:
		// The store moved every queued row of the chat to outbox_failed.
		d.done(len(c.msgs))
		c.msgs = nil
		c.failures = 0
	case outMigrated:
		msgs := c.msgs
		c.msgs, c.failures = nil, 0
		nc := d.queue(o.newChatID)
		for i := range msgs {
			msgs[i].ChatID = o.newChatID
		}
		nc.msgs = append(nc.msgs, msgs...)
		d.sortPending(nc)
		d.schedule(nc)
		m.migrated.Inc()
	}
	if len(c.msgs) == 0 && !c.inflight {
		if c.index >= 0 {
			heap.Remove(&d.ready[c.class], c.index)
		}
		delete(d.chats, c.id)
		d.lim.forget(c.id, now)
		return
	}
	d.schedule(c)
}
