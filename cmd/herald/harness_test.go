package main

// The end-to-end harness: the real herald binary, built once, started as a subprocess the way
// a user runs it, against the fake Bot API (bot/telegramtest) and a real Postgres database of
// its own per test.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store/storetest"
)

const testToken = "4242:e2e-secret-token-do-not-log"

var heraldBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "herald-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	heraldBin = filepath.Join(dir, "herald")
	build := exec.Command("go", "build", "-o", heraldBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building herald:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// heraldProc is one herald installation: a config, a database, and the process when running.
type heraldProc struct {
	t          *testing.T
	configPath string
	dbURL      string
	addr       string
	env        []string
	logs       *syncBuffer
	cmd        *exec.Cmd
	done       chan struct{}
}

type heraldOptions struct {
	tg            *telegramtest.Server
	extra         string // more YAML appended to the config
	mode          string // polling (default) | webhook
	secret        string // webhook secret
	metricsListen string // http.metrics_listen, if set
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// newHerald writes a config and prepares a database; start runs the binary.
func newHerald(t *testing.T, o heraldOptions) *heraldProc {
	t.Helper()
	h := &heraldProc{t: t, dbURL: storetest.NewURL(t), addr: freeAddr(t), logs: &syncBuffer{}}
	mode := o.mode
	if mode == "" {
		mode = "polling"
	}
	cfg := fmt.Sprintf(`telegram:
  token: ${HERALD_E2E_TOKEN}
  api_url: %s
  mode: %s
  poll_timeout: 2s
`, o.tg.URL(), mode)
	if mode == "webhook" {
		cfg += fmt.Sprintf("  webhook:\n    url: http://%s/telegram/webhook\n    secret_token: %s\n", h.addr, o.secret)
	}
	cfg += fmt.Sprintf("database:\n  url: ${HERALD_E2E_DB}\nhttp:\n  listen: %s\n", h.addr)
	if o.metricsListen != "" {
		cfg += fmt.Sprintf("  metrics_listen: %s\n", o.metricsListen)
	}
	cfg += "log:\n  level: debug\n"
	cfg += o.extra
	h.configPath = filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(h.configPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = append(os.Environ(), "HERALD_E2E_TOKEN="+testToken, "HERALD_E2E_DB="+h.dbURL)
	t.Cleanup(func() {
		h.stop(syscall.SIGKILL)
		logs := h.logs.String()
		if strings.Contains(logs, testToken) || strings.Contains(logs, strings.Split(testToken, ":")[1]) {
			t.Errorf("herald's logs contain the bot token")
		}
		if t.Failed() {
			t.Logf("herald logs:\n%s", logs)
		}
	})
	return h
}

// start runs herald serve and waits until its HTTP server answers.
func (h *heraldProc) start() {
	h.t.Helper()
	h.cmd = exec.Command(heraldBin, "--config", h.configPath, "--log-format", "json", "serve")
	h.cmd.Env = h.env
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.logs
	if err := h.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(h.cmd, h.done)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-h.done:
			h.t.Fatalf("herald exited at start:\n%s", h.logs.String())
		default:
		}
		resp, err := http.Get("http://" + h.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if strings.Contains(h.logs.String(), "herald is running") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("herald did not start:\n%s", h.logs.String())
}

// stop sends sig and waits for the process to end.
func (h *heraldProc) stop(sig syscall.Signal) {
	if h.cmd == nil || h.cmd.Process == nil {
		return
	}
	select {
	case <-h.done:
		return
	default:
	}
	_ = h.cmd.Process.Signal(sig)
	select {
	case <-h.done:
	case <-time.After(60 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
		h.t.Errorf("herald did not stop within 60s after %v", sig)
	}
}

// waitFor polls cond until it holds or the deadline passes; generous, since the machine may
// be busy: correctness is asserted, not speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// waitMessages waits until chat has n messages from the bot and returns them.
func waitMessages(t *testing.T, tg *telegramtest.Server, chatID int64, n int) []telegramtest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	msgs, err := tg.WaitMessages(ctx, chatID, n)
	if err != nil {
		t.Fatalf("waiting for %d messages in chat %d: %v (have %d: %+v)", n, chatID, err, len(tg.Messages(chatID)), tg.Messages(chatID))
	}
	return msgs
}

func newFakeTelegram(t *testing.T, limits *telegramtest.Limits) *telegramtest.Server {
	t.Helper()
	tg := telegramtest.New(telegramtest.Options{Token: testToken, Limits: limits})
	t.Cleanup(tg.Close)
	return tg
}
