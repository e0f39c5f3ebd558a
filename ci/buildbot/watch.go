package buildbot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/herald-ci/herald/ci"
)

// catchUpSlack is how far before since every catch-up looks, so a build stamped a little
// before the newest one seen (builds finish out of order, an event was in flight) is not lost.
// Duplicates this causes are dropped by the delivered set and, across restarts, by the sink.
const catchUpSlack = 5 * time.Minute

// catchUpPage is how many builds one catch-up request asks for: after a long downtime the
// builds are fetched page by page (by build id) rather than in one answer of any size.
const catchUpPage = 200

// watcher is the state of one Watch call: what it has delivered and what it knows of the
// workers, so reconnects neither lose nor needlessly repeat events.
type watcher struct {
	p         *Provider
	sink      ci.EventSink
	since     time.Time            // catch up from here (less catchUpSlack) on the next connect; the master's clock
	delivered map[string]time.Time // event key → event time, pruned as since moves on
	connected map[string]bool      // worker name → connected, as last seen
	missing   map[string]bool      // workers reported missing and not yet back
}

// Watch streams build and worker events to sink until ctx ends (it then returns ctx's
// error) or sink returns an error wrapping ci.ErrStop (returned as it is). On every
// (re)connect it first catches up from the REST API with every build started or finished
// after since less catchUpSlack — a zero since means now, so a first start does not replay
// history — then streams live events from the websocket. A failing sink makes it reconnect
// and catch up again, so the event is offered once more.
//
// since is in the master's clock: the catch-up asks the master for builds stamped after it,
// so it moves on only with the times of the build events delivered (the master's time
// stamps, made plausible by ci.PlausibleTime), never with herald's clock; a build event's At
// is the same time, and so is the store's cursor that herald passes back in after a restart.
func (p *Provider) Watch(ctx context.Context, since time.Time, sink ci.EventSink) error {
	if since.IsZero() {
		// Nothing seen yet: herald's clock is the only one known, and the slack covers a
		// master a little behind it.
		since = p.now()
	}
	w := &watcher{
		p: p, sink: sink, since: since,
		delivered: map[string]time.Time{}, connected: map[string]bool{}, missing: map[string]bool{},
	}
	backoff := 500 * time.Millisecond
	for {
		start := p.now()
		err := w.session(ctx)
		if errors.Is(err, ci.ErrStop) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("buildbot: watch %s: %w", p.cfg.Name, ctx.Err())
		}
		if p.now().Sub(start) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		p.log.Warn().Err(err).Dur("retry_in", backoff).Msg("buildbot watch disconnected")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("buildbot: watch %s: %w", p.cfg.Name, ctx.Err())
		case <-t.C:
		}
		backoff = min(backoff*2, p.cfg.PollInterval)
	}
}

func (w *watcher) wsURL() string {
	u := w.p.cfg.URL
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	return u + "ws"
}

// session is one websocket connection: subscribe, catch up, then stream until it breaks.
func (w *watcher) session(ctx context.Context) error {
	c := w.p.c
	if c.auth.Kind == "basic" {
		if err := c.login(ctx); err != nil {
			return err
		}
	}
	opts := &websocket.DialOptions{HTTPClient: c.http}
	switch c.auth.Kind {
	case "basic":
		opts.HTTPHeader = map[string][]string{}
	case "bearer":
		opts.HTTPHeader = map[string][]string{"Authorization": {"Bearer " + c.auth.Token}}
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, _, err := websocket.Dial(dctx, w.wsURL(), opts)
	cancel()
	if err != nil {
		return c.notAnswering(redact(err))
	}
	defer conn.CloseNow()
	conn.SetReadLimit(32 << 20)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	frames := make(chan wsFrame, 256)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, data, err := conn.Read(sctx)
			if err != nil {
				readErr <- err
				return
			}
			f, err := parseWSFrame(data)
			if err != nil {
				w.p.log.Warn().Err(err).Msg("buildbot websocket frame ignored")
				continue
			}
			select {
			case frames <- f:
			case <-sctx.Done():
				return
			}
		}
	}()

	// Subscribe before catching up, so nothing falls between the two; what both report is
	// delivered once.
	for i, path := range []string{"builds/*/*", "workers/*/*"} {
		msg := fmt.Sprintf(`{"cmd":"startConsuming","path":%q,"_id":%d}`, path, i+1)
		if err := conn.Write(sctx, websocket.MessageText, []byte(msg)); err != nil {
			return fmt.Errorf("buildbot: subscribe %s: %w", path, err)
		}
	}
	var pending []wsFrame
	acks := 0
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for acks < 2 {
		select {
		case f := <-frames:
			switch {
			case f.ID != nil && f.Error != "":
				return fmt.Errorf("buildbot: subscribe: %s", f.Error)
			case f.ID != nil:
				acks++
			default:
				pending = append(pending, f)
			}
		case err := <-readErr:
			return fmt.Errorf("buildbot: websocket: %w", err)
		case <-deadline.C:
			return c.notAnswering(errors.New("no answer to subscribe"))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := w.catchUp(sctx); err != nil {
		return err
	}
	for _, f := range pending {
		if err := w.handle(sctx, f); err != nil {
			return err
		}
	}

	ping := time.NewTicker(w.p.cfg.PollInterval)
	defer ping.Stop()
	lastFrame := time.Now()
	for {
		select {
		case f := <-frames:
			lastFrame = time.Now()
			if err := w.handle(sctx, f); err != nil {
				return err
			}
		case err := <-readErr:
			return fmt.Errorf("buildbot: websocket: %w", err)
		case <-ping.C:
			if time.Since(lastFrame) > 3*w.p.cfg.PollInterval {
				return c.notAnswering(errors.New("websocket silent"))
			}
			if err := conn.Write(sctx, websocket.MessageText, []byte(`{"cmd":"ping","_id":99}`)); err != nil {
				return fmt.Errorf("buildbot: ping: %w", err)
			}
		case <-ctx.Done():
			conn.Close(websocket.StatusNormalClosure, "")
			return ctx.Err()
		}
	}
}

// deliver hands an event to the sink unless this watcher delivered it already.
func (w *watcher) deliver(ctx context.Context, ev ci.Event) error {
	key := ev.Key()
	if _, ok := w.delivered[key]; ok {
		return nil
	}
	if err := w.sink.Deliver(ctx, ev); err != nil {
		return fmt.Errorf("buildbot: deliver %s: %w", key, err)
	}
	w.delivered[key] = ev.At
	if ev.Build != nil && ev.At.After(w.since) {
		w.since = ev.At
	}
	return nil
}

// catchUp delivers, oldest first, every build start and finish stamped after since less
// catchUpSlack that the REST API knows, and worker returns it missed; delivering moves since.
func (w *watcher) catchUp(ctx context.Context) error {
	after := w.since.Add(-catchUpSlack).Unix()
	started, err := w.catchUpBuilds(ctx, fmt.Sprintf("started_at__gt=%d", after))
	if err != nil {
		return err
	}
	finished, err := w.catchUpBuilds(ctx, fmt.Sprintf("complete_at__gt=%d", after))
	if err != nil {
		return err
	}
	evs := catchUpEvents(w.p.cfg.Name, started, finished)
	for _, ev := range evs {
		if err := w.deliver(ctx, ev); err != nil {
			return err
		}
	}
	if err := w.catchUpWorkers(ctx); err != nil {
		return err
	}
	for k, at := range w.delivered {
		if at.Before(w.since.Add(-catchUpSlack - time.Hour)) {
			delete(w.delivered, k)
		}
	}
	return nil
}

// catchUpBuilds reads every build that matches filter, catchUpPage builds a request, each
// page after the highest build id of the one before: pages by id neither skip nor repeat a
// build when builds are added or finish while they are read.
func (w *watcher) catchUpBuilds(ctx context.Context, filter string) ([]ci.Build, error) {
	var out []ci.Build
	last := 0
	for {
		path := fmt.Sprintf("builds?%s&buildid__gt=%d&order=buildid&limit=%d&property=*", filter, last, catchUpPage)
		bs, err := getList[apiBuild](ctx, w.p.c, path, "builds")
		if err != nil {
			return nil, err
		}
		page, err := w.p.fill(ctx, bs, true)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(bs) < catchUpPage {
			return out, nil
		}
		for _, b := range bs {
			last = max(last, b.ID)
		}
	}
}

// catchUpEvents turns the builds found by the catch-up queries into started and finished
// events in the order they happened.
func catchUpEvents(conn string, started, finished []ci.Build) []ci.Event {
	var evs []ci.Event
	seen := map[string]bool{}
	for _, b := range started {
		sb := startedView(b)
		evs = append(evs, ci.Event{Conn: conn, Kind: ci.KindStarted, Build: &sb, At: b.StartedAt, CatchUp: true})
	}
	for _, list := range [][]ci.Build{started, finished} {
		for _, b := range list {
			if !b.Complete || seen[b.ID] {
				continue
			}
			seen[b.ID] = true
			fb := b
			evs = append(evs, ci.Event{Conn: conn, Kind: ci.KindFinished, Build: &fb, At: b.FinishedAt, CatchUp: true})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Kind != b.Kind {
			return a.Kind == ci.KindStarted
		}
		ai, _ := strconv.Atoi(a.Build.ID)
		bi, _ := strconv.Atoi(b.Build.ID)
		return ai < bi
	})
	return evs
}

// startedView is a build as it was when it started, for a started event found late.
func startedView(b ci.Build) ci.Build {
	b.Complete = false
	b.Result = ci.ResultNone
	b.FinishedAt = time.Time{}
	b.FailedStep = ""
	return b
}

func (w *watcher) catchUpWorkers(ctx context.Context) error {
	ws, err := w.p.workers(ctx)
	if err != nil {
		return err
	}
	for _, aw := range ws {
		cw := w.p.toWorker(aw)
		prev, known := w.connected[cw.Name]
		w.connected[cw.Name] = cw.Connected
		switch {
		case !cw.Connected && !known:
			// Found away when herald starts watching: report it when it comes back.
			w.missing[cw.Name] = true
		case cw.Connected && known && !prev && w.missing[cw.Name]:
			delete(w.missing, cw.Name)
			ev := ci.Event{Conn: w.p.cfg.Name, Kind: ci.KindWorker, Worker: &cw, WorkerState: ci.WorkerOnline, At: w.p.now().UTC(), CatchUp: true}
			if err := w.deliver(ctx, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// handle turns one websocket frame into events.
func (w *watcher) handle(ctx context.Context, f wsFrame) error {
	if f.Key == "" {
		return nil // a command reply (ping)
	}
	parts := strings.Split(f.Key, "/")
	if len(parts) != 3 {
		return nil
	}
	switch parts[0] {
	case "builds":
		return w.handleBuild(ctx, parts[1], parts[2])
	case "workers":
		return w.handleWorker(ctx, f, parts[2])
	}
	return nil
}

func (w *watcher) handleBuild(ctx context.Context, id, event string) error {
	var kind ci.Kind
	switch event {
	case "new":
		kind = ci.KindStarted
	case "finished":
		kind = ci.KindFinished
	default:
		return nil
	}
	if _, ok := w.delivered[fmt.Sprintf("%s/build/%s/%s", w.p.cfg.Name, id, kind)]; ok {
		return nil
	}
	b, err := w.p.Build(ctx, id)
	// The build's properties (branch, owner, ...) are written just after it is announced:
	// give them a moment to appear.
	for i := 0; err == nil && kind == ci.KindStarted && missingProps(b) && i < 10; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		b, err = w.p.Build(ctx, id)
	}
	if errors.Is(err, ci.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ev := ci.Event{Conn: w.p.cfg.Name, Kind: kind, Build: &b, At: b.StartedAt}
	if kind == ci.KindStarted {
		sb := startedView(b)
		ev.Build = &sb
	} else {
		if !b.Complete {
			return fmt.Errorf("buildbot: build %s finished but the API says it is running", id)
		}
		ev.At = b.FinishedAt
	}
	return w.deliver(ctx, ev)
}

func missingProps(b ci.Build) bool { return b.Reason == "" && b.Owner == "" && b.Branch == "" }

func (w *watcher) handleWorker(ctx context.Context, f wsFrame, event string) error {
	aw, err := parseWorkerMessage(f.Message)
	if err != nil {
		w.p.log.Warn().Err(err).Str("key", f.Key).Msg("buildbot worker event ignored")
		return nil
	}
	cw := w.p.toWorker(aw)
	switch event {
	case "missing":
		w.connected[cw.Name] = false
		w.missing[cw.Name] = true
		cw.Connected = false
		return w.deliver(ctx, ci.Event{Conn: w.p.cfg.Name, Kind: ci.KindWorker, Worker: &cw, WorkerState: ci.WorkerMissing, At: w.p.now().UTC()})
	case "connected":
		w.connected[cw.Name] = true
		cw.Connected = true
		if !w.missing[cw.Name] {
			return nil
		}
		delete(w.missing, cw.Name)
		return w.deliver(ctx, ci.Event{Conn: w.p.cfg.Name, Kind: ci.KindWorker, Worker: &cw, WorkerState: ci.WorkerOnline, At: w.p.now().UTC()})
	case "disconnected":
		w.connected[cw.Name] = false
	}
	return nil
}
