package main

// The replica figures of issue 13, measured on real herald processes (the binary built from
// this checkout) sharing the bench's database and one bot token, against the fake Bot API with
// Telegram's real limits (not -scale: the figures are about Telegram's pace):
//
//	failover: kill -9 of the process holding the sender, in the middle of a fan-out, to the
//	          first message the fake accepts after it (the new leader's), over -failover-runs
//	          runs: min, median, max, and what the kills cost (duplicates, 429s).
//	replicas: one event fanned out to -replica-chats chats, by one replica and by three:
//	          messages per second at the fake. Telegram's limit is per bot, so both should be
//	          the same.
//
// The events are committed by the bench itself (the real notifier, into the shared database)
// and the sender woken by the NOTIFY any other replica would send.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// replicaChats are the chats of the replica figures: private ones, so the global limit
// (30/s) sets the pace; failoverRuns is how many kills the failover figure makes.
const (
	replicaChats = 300
	failoverRuns = 10
)

// proc is one herald process of the figures.
type proc struct {
	bin, cfg, addr string
	env            []string
	mu             sync.Mutex
	logs           strings.Builder
	cmd            *exec.Cmd
	done           chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// start runs the process and waits until /readyz answers 200.
func (p *proc) start() error {
	p.cmd = exec.Command(p.bin, "--config", p.cfg, "--log-format", "json", "serve")
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.env, p, p
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start herald: %w", err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			return fmt.Errorf("herald exited at start:\n%s", p.log())
		default:
		}
		if code, _ := p.ready(); code == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("herald on %s not ready within 60s", p.addr)
}

// stop signals the process and waits for it to end.
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// ready is /readyz's status and the roles it lists.
func (p *proc) ready() (int, []string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.addr + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var r struct {
		Roles []string `json:"roles"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r.Roles
}

// cluster is n herald processes on the store's database and a fake Bot API with Telegram's
// limits, recording when each message arrived.
type cluster struct {
	tg    *telegramtest.Server
	procs []*proc
	dir   string
}

func startCluster(ctx context.Context, st *store.Store, n int) (*cluster, error) {
	dir, err := os.MkdirTemp("", "herald-bench-replicas-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "herald")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/herald-ci/herald/cmd/herald")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build herald: %w", err)
	}
	c := &cluster{tg: telegramtest.New(telegramtest.Options{Token: token, Limits: telegramtest.DefaultLimits()}), dir: dir}
	env := append(os.Environ(), "HERALD_BENCH_TOKEN="+token, "HERALD_BENCH_DB="+st.Pool().Config().ConnString())
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.close()
			return nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		cfg := fmt.Sprintf(`telegram:
  token: ${HERALD_BENCH_TOKEN}
  api_url: %s
  mode: polling
  poll_timeout: 2s
database:
  url: ${HERALD_BENCH_DB}
http:
  listen: %s
log:
  level: info
`, c.tg.URL(), addr)
		p := &proc{bin: bin, cfg: filepath.Join(dir, fmt.Sprintf("herald-%d.yaml", i)), addr: addr, env: env}
		if err := os.WriteFile(p.cfg, []byte(cfg), 0o600); err != nil {
			c.close()
			return nil, err
		}
		c.procs = append(c.procs, p)
		if err := p.start(); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) close() {
	for _, p := range c.procs {
		p.stop(syscall.SIGKILL)
	}
	c.tg.Close()
	os.RemoveAll(c.dir)
}

// holder waits for the one process holding role.
func (c *cluster) holder(role string) (*proc, error) {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var hs []*proc
		for _, p := range c.procs {
			if _, roles := p.ready(); slices.Contains(roles, role) {
				hs = append(hs, p)
			}
		}
		if len(hs) > 1 {
			return nil, fmt.Errorf("%d processes hold %s at once", len(hs), role)
		}
		if len(hs) == 1 {
			return hs[0], nil
		}
	}
	return nil, fmt.Errorf("no process holds %s", role)
}

// tookSender counts the processes' log lines saying they took the sender role.
func (c *cluster) tookSender() int {
	n := 0
	for _, p := range c.procs {
		for _, line := range strings.Split(p.log(), "\n") {
			if strings.Contains(line, "took the role") && strings.Contains(line, `"role":"sender"`) {
				n++
			}
		}
	}
	return n
}

// fanOut commits one event to the subscribed chats and wakes whichever process sends.
func fanOut(ctx context.Context, st *store.Store) (ci.Event, error) {
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: func() {}}, zerolog.Nop())
	ev := finished("linux", ci.ResultFailure)
	if err := n.Deliver(ctx, ev); err != nil {
		return ev, err
	}
	return ev, st.Notify(ctx, store.OutboxChannel, "")
}

// ofEvent are the messages of build number's event, in the order the fake accepted them.
func ofEvent(tg *telegramtest.Server, number int) []telegramtest.Message {
	tag := fmt.Sprintf(">#%d<", number)
	var out []telegramtest.Message
	for _, m := range tg.AllSent() {
		if strings.Contains(m.Text, tag) {
			out = append(out, m)
		}
	}
	return out
}

// waitEvent waits until n chats have build number's message.
func waitEvent(tg *telegramtest.Server, number, n int) ([]telegramtest.Message, error) {
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ms := ofEvent(tg, number); distinctChats(ms) >= n {
			return ms, nil
		}
	}
	return nil, fmt.Errorf("build #%d reached %d of %d chats", number, distinctChats(ofEvent(tg, number)), n)
}

// failover: failoverRuns kills of the sender's process in the middle of a fan-out; the
// killed process is started again before the next run, so every run has three.
func failover(ctx context.Context, st *store.Store, _ config) error {
	if err := subscribe(ctx, st, 1, replicaChats, []string{"finished"}); err != nil {
		return err
	}
	cl, err := startCluster(ctx, st, 3)
	if err != nil {
		return err
	}
	defer cl.close()
	var took, locks []time.Duration
	var numbers []int
	for run := range failoverRuns {
		sender, err := cl.holder("sender")
		if err != nil {
			return err
		}
		ev, err := fanOut(ctx, st)
		if err != nil {
			return err
		}
		numbers = append(numbers, ev.Build.Number)
		if _, err := waitEvent(cl.tg, ev.Build.Number, replicaChats/5); err != nil {
			return err
		}
		before := cl.tookSender()
		sender.stop(syscall.SIGKILL)
		killed := time.Now()
		for time.Since(killed) < 15*time.Second && cl.tookSender() == before {
			time.Sleep(10 * time.Millisecond)
		}
		locks = append(locks, time.Since(killed))
		ms, err := waitEvent(cl.tg, ev.Build.Number, replicaChats)
		if err != nil {
			return fmt.Errorf("run %d after the kill: %w", run+1, err)
		}
		first := time.Duration(-1)
		for _, m := range ms {
			if m.SentAt.After(killed) {
				first = m.SentAt.Sub(killed)
				break
			}
		}
		took = append(took, first)
		if err := sender.start(); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond) // anything sent twice would show now
	twice, most := 0, 0
	for _, n := range numbers {
		ms := ofEvent(cl.tg, n)
		twice += len(ms) - distinctChats(ms)
		most = max(most, len(ms)-distinctChats(ms))
	}
	slices.Sort(took)
	slices.Sort(locks)
	fmt.Printf("failover: kill -9 of the sender's process -> first send after it, %d runs (3 replicas, %d chats a fan-out at Telegram's real limits, killed at a fifth): min %v, median %v, max %v; %d messages sent twice in all (at most %d in a run), %d 429s\n",
		len(took), replicaChats, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
		twice, most, cl.tg.Stats().RateLimited)
	fmt.Printf("failover: of which kill -9 -> the new leader's \"took the role\" line (its lock): min %v, median %v, max %v; the rest is the wait for the dead process's claims (store.ProcessGrace) and the first send\n",
		locks[0].Round(time.Millisecond), locks[len(locks)/2].Round(time.Millisecond), locks[len(locks)-1].Round(time.Millisecond))
	return nil
}

// replicasFigure: one event to replicaChats chats with one replica, then with three.
func replicasFigure(ctx context.Context, st *store.Store, _ config) error {
	if err := subscribe(ctx, st, 1, replicaChats, []string{"finished"}); err != nil {
		return err
	}
	for _, n := range []int{1, 3} {
		cl, err := startCluster(ctx, st, n)
		if err != nil {
			return err
		}
		if _, err := cl.holder("sender"); err != nil {
			cl.close()
			return err
		}
		start := time.Now()
		ev, err := fanOut(ctx, st)
		if err == nil {
			var ms []telegramtest.Message
			if ms, err = waitEvent(cl.tg, ev.Build.Number, replicaChats); err == nil {
				time.Sleep(500 * time.Millisecond) // anything sent twice would show now
				ms = ofEvent(cl.tg, ev.Build.Number)
				elapsed := ms[len(ms)-1].SentAt.Sub(start)
				// Telegram's window slides: the first second's 30 go at once, so the optimum
				// is (chats-1)/30 s, not chats/30.
				window := time.Duration((replicaChats-1)/30) * time.Second
				firstAt := ms[0].SentAt.Sub(start)
				fmt.Printf("replicas: %d replica(s), 1 event to %d chats at Telegram's real limits: first message after %v, last after %v (sliding-window optimum %v), %.1f messages/s (%.1f/s from the first to the last); sent %d, duplicates %d, 429s %d\n",
					n, replicaChats, firstAt.Round(time.Millisecond), elapsed.Round(time.Millisecond), window, float64(len(ms))/elapsed.Seconds(),
					float64(len(ms)-1)/(elapsed-firstAt).Seconds(), len(ms), len(ms)-distinctChats(ms), cl.tg.Stats().RateLimited)
			}
		}
		cl.close()
		if err != nil {
			return err
		}
	}
	return nil
}
