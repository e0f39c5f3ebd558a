package buildbot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/herald-ci/herald/ci"
)

// propsTries and propsPause bound the wait for a new build's properties: Buildbot announces
// a build before it writes its branch, owner and reason.
const (
	propsTries = 10
	propsPause = 200 * time.Millisecond
)

func (p *Provider) wsURL() string {
	u := p.cfg.URL
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	}
	return u + "ws"
}

// Stream is one connection to the master's websocket (ci.Streamer): subscribe to build and
// worker events, call onConnect once both subscriptions are acknowledged (events that come
// meanwhile are held and handled after it), then turn frames into events until the
// connection breaks, the master falls silent for three ping intervals, or ctx ends.
func (p *Provider) Stream(ctx context.Context, sink ci.EventSink, onConnect func(ctx context.Context) error) error {
	c := p.c
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
	conn, _, err := websocket.Dial(dctx, p.wsURL(), opts)
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
				p.log.Warn().Err(err).Msg("buildbot websocket frame ignored")
				continue
			}
			select {
			case frames <- f:
			case <-sctx.Done():
				return
			}
		}
	}()

	// Subscribe before the catch-up, so nothing falls between the two; what both report is
	// delivered once (the Follower drops the second).
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
	if err := onConnect(sctx); err != nil {
		return fmt.Errorf("buildbot: stream %s: %w", p.cfg.Name, err)
	}
	for _, f := range pending {
		if err := p.handle(sctx, sink, f); err != nil {
			return err
		}
	}

	ping := time.NewTicker(p.cfg.PollInterval)
	defer ping.Stop()
	lastFrame := time.Now()
	for {
		select {
		case f := <-frames:
			lastFrame = time.Now()
			if err := p.handle(sctx, sink, f); err != nil {
				return err
			}
		case err := <-readErr:
			return fmt.Errorf("buildbot: websocket: %w", err)
		case <-ping.C:
			if time.Since(lastFrame) > 3*p.cfg.PollInterval {
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

// handle turns one websocket frame into events.
func (p *Provider) handle(ctx context.Context, sink ci.EventSink, f wsFrame) error {
	if f.Key == "" {
		return nil // a command reply (ping)
	}
	parts := strings.Split(f.Key, "/")
	if len(parts) != 3 {
		return nil
	}
	var err error
	switch parts[0] {
	case "builds":
		err = p.handleBuild(ctx, sink, parts[1], parts[2])
	case "workers":
		err = p.handleWorker(ctx, sink, f, parts[2])
	}
	if err != nil {
		return fmt.Errorf("buildbot: stream %s: %w", p.cfg.Name, err)
	}
	return nil
}

func (p *Provider) handleBuild(ctx context.Context, sink ci.EventSink, id, event string) error {
	var kind ci.Kind
	switch event {
	case "new":
		kind = ci.KindStarted
	case "finished":
		kind = ci.KindFinished
	default:
		return nil
	}
	b, err := p.Build(ctx, id)
	if err == nil && kind == ci.KindStarted {
		b, err = p.awaitProps(ctx, b)
	}
	if errors.Is(err, ci.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	ev := ci.Event{Conn: p.cfg.Name, Kind: kind, Build: &b, At: b.StartedAt}
	if kind == ci.KindStarted {
		sb := ci.StartedView(b)
		ev.Build = &sb
	} else {
		if !b.Complete {
			return fmt.Errorf("buildbot: build %s finished but the API says it is running", id)
		}
		if err := p.addChanges(ctx, &b); err != nil { // blame list and author (sourcechanges.go)
			return err
		}
		ev.At = b.FinishedAt
	}
	return sink.Deliver(ctx, ev)
}

// awaitProps reads a build again until its properties (branch, owner, ...) appear, a few
// times at most: they are written just after the build is announced, and a started event
// without its branch would miss every chat that follows only some branches.
func (p *Provider) awaitProps(ctx context.Context, b ci.Build) (ci.Build, error) {
	var err error
	for i := 0; err == nil && missingProps(b) && i < propsTries; i++ {
		select {
		case <-ctx.Done():
			return ci.Build{}, ctx.Err()
		case <-time.After(propsPause):
		}
		b, err = p.Build(ctx, b.ID)
	}
	return b, err
}

func missingProps(b ci.Build) bool { return b.Reason == "" && b.Owner == "" && b.Branch == "" }

// handleWorker reports a worker declared missing and every worker that connects; the
// Follower tells a return only after a loss. A disconnect is not news: Buildbot declares the
// worker missing if it stays away.
func (p *Provider) handleWorker(ctx context.Context, sink ci.EventSink, f wsFrame, event string) error {
	aw, err := parseWorkerMessage(f.Message)
	if err != nil {
		p.log.Warn().Err(err).Str("key", f.Key).Msg("buildbot worker event ignored")
		return nil
	}
	cw := p.toWorker(aw)
	ev := ci.Event{Conn: p.cfg.Name, Kind: ci.KindWorker, Worker: &cw, At: p.now().UTC()}
	switch event {
	case "missing":
		cw.Connected = false
		ev.WorkerState = ci.WorkerMissing
	case "connected":
		cw.Connected = true
		ev.WorkerState = ci.WorkerOnline
	default:
		return nil
	}
	return sink.Deliver(ctx, ev)
}

// FollowOptions paces the Follower for this master (ci.FollowTuner): it waits at most
// PollInterval before reconnecting, the interval the stream pings at.
func (p *Provider) FollowOptions() ci.FollowOptions {
	return ci.FollowOptions{MaxBackoff: p.cfg.PollInterval}
}
