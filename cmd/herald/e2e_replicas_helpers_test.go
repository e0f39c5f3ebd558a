package main

// Helpers for the end-to-end tests of several herald replicas on one database (issue 13):
// N real herald processes sharing one Postgres database and one bot token, ways to ask which
// of them holds a role (/readyz, /metrics, the takeover log line), a round-robin proxy that
// spreads Telegram's webhook deliveries over them, and counts of what every chat received.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/store/storetest"
)

// replicaOptions shape a set of replicas: every one gets the same config but its listener.
type replicaOptions struct {
	tg   *telegramtest.Server
	n    int    // replicas; default 3
	mode string // polling (default) | webhook
	// webhook mode: the one address Telegram posts to (a proxy), made from the replicas'
	// listen addresses
	webhookURL func(addrs []string) string
	secret     string // webhook secret
	extra      string // more YAML appended to every replica's config
}

// replicas is one installation run as several processes: one database, one token.
type replicas struct {
	t     *testing.T
	tg    *telegramtest.Server
	dbURL string
	procs []*heraldProc
}

// noCommandLimits turns the per-person and per-group command limits off: the tests send
// more commands per person than a person would, and count every answer.
const noCommandLimits = `  command_limits:
    per_user: {burst: 0}
    per_chat: {burst: 0}
`

// newReplicas writes one config per replica, all on one fresh database; start runs them.
// It is newHerald's installation with the database shared, written here rather than by
// newHerald because the webhook URL and the database are the set's, not a process's.
func newReplicas(t *testing.T, o replicaOptions) *replicas {
	t.Helper()
	if o.n == 0 {
		o.n = 3
	}
	mode := o.mode
	if mode == "" {
		mode = "polling"
	}
	r := &replicas{t: t, tg: o.tg, dbURL: storetest.NewURL(t)}
	addrs := make([]string, o.n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	var webhookURL string
	if mode == "webhook" {
		webhookURL = o.webhookURL(addrs)
	}
	for i, addr := range addrs {
		h := &heraldProc{t: t, dbURL: r.dbURL, addr: addr, logs: &syncBuffer{}}
		cfg := fmt.Sprintf(`telegram:
  token: ${HERALD_E2E_TOKEN}
  api_url: %s
  mode: %s
  poll_timeout: 2s
`, o.tg.URL(), mode)
		if mode == "webhook" {
			cfg += fmt.Sprintf("  webhook:\n    url: %s\n    secret_token: %s\n", webhookURL, o.secret)
		}
		cfg += noCommandLimits
		cfg += fmt.Sprintf("database:\n  url: ${HERALD_E2E_DB}\nhttp:\n  listen: %s\n", h.addr)
		cfg += "log:\n  level: debug\n"
		cfg += o.extra
		h.configPath = filepath.Join(t.TempDir(), fmt.Sprintf("herald-%d.yaml", i))
		if err := os.WriteFile(h.configPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		h.env = append(os.Environ(), "HERALD_E2E_TOKEN="+testToken, "HERALD_E2E_DB="+h.dbURL)
		t.Cleanup(func() {
			h.stop(syscall.SIGKILL)
			logs := h.logs.String()
			if strings.Contains(logs, testToken) || strings.Contains(logs, strings.Split(testToken, ":")[1]) {
				t.Errorf("replica %d's logs contain the bot token", i)
			}
			if t.Failed() || os.Getenv("HERALD_E2E_KEEP_LOGS") != "" {
				keepLogs(t, i, logs)
			}
		})
		r.procs = append(r.procs, h)
	}
	return r
}

// keepLogs saves a failed test's replica logs (debug level, thousands of lines) to a file
// that outlives the test, and shows their end; HERALD_E2E_KEEP_LOGS=1 keeps a passing one's.
func keepLogs(t *testing.T, i int, logs string) {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	path := filepath.Join(os.TempDir(), fmt.Sprintf("herald-e2e-%s-replica%d.log", name, i))
	if err := os.WriteFile(path, []byte(logs), 0o644); err != nil {
		t.Logf("replica %d: saving its logs: %v", i, err)
	}
	lines := strings.Split(strings.TrimRight(logs, "\n"), "\n")
	t.Logf("replica %d: full logs in %s; the last lines:\n%s", i, path, strings.Join(lines[max(0, len(lines)-60):], "\n"))
}

// start runs every replica, one after the other (the first migrates the database), and
// waits until each is ready.
func (r *replicas) start() {
	r.t.Helper()
	for _, h := range r.procs {
		r.startOne(h)
	}
}

// startOne starts h (again) and waits until it says it runs and /readyz answers 200. A
// restarted process's logs already hold the first run's "herald is running", so the lines
// are counted.
func (r *replicas) startOne(h *heraldProc) {
	r.t.Helper()
	before := strings.Count(h.logs.String(), "herald is running")
	h.start()
	waitFor(r.t, h.addr+" running and ready", func() bool {
		return strings.Count(h.logs.String(), "herald is running") > before && readyStatus(h) == http.StatusOK
	})
}

// running says whether h's process is alive.
func running(h *heraldProc) bool {
	if h.cmd == nil || h.done == nil {
		return false
	}
	select {
	case <-h.done:
		return false
	default:
		return true
	}
}

// readiness is the part of /readyz these tests read.
type readiness struct {
	Roles []string `json:"roles"`
}

func readyStatus(h *heraldProc) int {
	resp, err := http.Get("http://" + h.addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// roles are the roles h says it holds; nil when it does not answer.
func roles(h *heraldProc) []string {
	if !running(h) {
		return nil
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + h.addr + "/readyz")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var rd readiness
	if err := json.NewDecoder(resp.Body).Decode(&rd); err != nil {
		return nil
	}
	return rd.Roles
}

// holders are the running replicas that say they hold role.
func (r *replicas) holders(role string) []*heraldProc {
	var out []*heraldProc
	for _, h := range r.procs {
		if slices.Contains(roles(h), role) {
			out = append(out, h)
		}
	}
	return out
}

// holder waits until a running replica holds role and returns it; two at once fail the test.
func (r *replicas) holder(role string) *heraldProc {
	r.t.Helper()
	var got *heraldProc
	waitFor(r.t, "a replica holding "+role, func() bool {
		hs := r.holders(role)
		if len(hs) > 1 {
			r.t.Fatalf("%d replicas hold the role %q at once: %s", len(hs), role, r.describe())
		}
		if len(hs) == 1 {
			got = hs[0]
			return true
		}
		return false
	})
	return got
}

// describe lists every replica's address and roles, for failure messages.
func (r *replicas) describe() string {
	var b strings.Builder
	for i, h := range r.procs {
		fmt.Fprintf(&b, "\n  replica %d (%s, running %v): %v", i, h.addr, running(h), roles(h))
	}
	return b.String()
}

// index is h's position in the set, for messages.
func (r *replicas) index(h *heraldProc) int { return slices.Index(r.procs, h) }

// tookRole counts h's log lines saying it took role.
func tookRole(h *heraldProc, role string) int {
	n := 0
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, "took the role") && strings.Contains(line, `"role":"`+role+`"`) {
			n++
		}
	}
	return n
}

// tookRoleCounts is tookRole for every replica.
func (r *replicas) tookRoleCounts(role string) []int {
	out := make([]int, len(r.procs))
	for i, h := range r.procs {
		out[i] = tookRole(h, role)
	}
	return out
}

// leaderMetric reads herald_role_leader{role=...} from h's /metrics: 1, 0, or -1 when the
// line is missing or the metrics do not answer.
func leaderMetric(h *heraldProc, role string) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + h.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, `herald_role_leader{role="`+role+`"}`) {
			switch strings.TrimSpace(line[strings.LastIndex(line, "}")+1:]) {
			case "1":
				return 1
			case "0":
				return 0
			}
		}
	}
	return -1
}

// roundRobin is a reverse proxy that hands each request to the next replica in turn, the
// way a load balancer in front of a service's replicas does; hits counts the requests each
// got. A replica that is down answers 502 through it, and Telegram posts the update again
// later (to the next one).
type roundRobin struct {
	srv     *httptest.Server
	proxies []*httputil.ReverseProxy
	next    atomic.Uint64
	hits    []atomic.Int64
}

func newRoundRobin(t *testing.T, addrs []string) *roundRobin {
	t.Helper()
	rr := &roundRobin{hits: make([]atomic.Int64, len(addrs))}
	for _, a := range addrs {
		target := &url.URL{Scheme: "http", Host: a}
		rr.proxies = append(rr.proxies, &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
				w.WriteHeader(http.StatusBadGateway) // the replica is down: Telegram tries again
			},
		})
	}
	rr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		i := int(rr.next.Add(1)-1) % len(rr.proxies)
		rr.hits[i].Add(1)
		rr.proxies[i].ServeHTTP(w, req)
	}))
	t.Cleanup(rr.srv.Close)
	return rr
}

// hitCounts is how many requests each replica got through the proxy.
func (rr *roundRobin) hitCounts() []int64 {
	out := make([]int64, len(rr.hits))
	for i := range rr.hits {
		out[i] = rr.hits[i].Load()
	}
	return out
}

// ---- users, chats and what they received ----

// privateUser is a person with a private chat whose id is theirs.
func privateUser(id int64) (telegramtest.User, telegramtest.Chat) {
	u := telegramtest.User{ID: id, FirstName: fmt.Sprintf("User%d", id)}
	return u, telegramtest.PrivateChat(u)
}

// echoCommand is a command whose answer names its argument, so every answer says which
// command it answers: herald refuses an unknown event and names it.
func echoCommand(tag string) string { return "/notify on " + tag }

// echoAnswer is what the answer to echoCommand(tag) holds.
func echoAnswer(tag string) string { return "Unknown event " + tag + "." }

// sentTo is every message sent to chat, as sent, in the order the fake accepted them.
func sentTo(all []telegramtest.Message, chat int64) []telegramtest.Message {
	var out []telegramtest.Message
	for _, m := range all {
		if m.ChatID == chat {
			out = append(out, m)
		}
	}
	return out
}

// countSent counts the messages sent to chat whose text holds every one of parts.
func countSent(all []telegramtest.Message, chat int64, parts ...string) int {
	n := 0
	for _, m := range all {
		if m.ChatID == chat && containsAll(m.Text, parts...) {
			n++
		}
	}
	return n
}

// chatsYAML subscribes the chats first..first+n-1 (private) to finished builds.
func chatsYAML(first int64, n int) string {
	var b strings.Builder
	b.WriteString("chats:\n")
	for id := first; id < first+int64(n); id++ {
		fmt.Fprintf(&b, "  - id: %d\n    events: [finished]\n", id)
	}
	return b.String()
}

// buildCounts is, for chats first..first+n-1, how many times each got build number's
// message, and how many got it at all.
func buildCounts(tg *telegramtest.Server, first int64, n, number int) (per map[int64]int, reached int) {
	per = map[int64]int{}
	tag := buildLink(number)
	for _, m := range tg.AllSent() {
		if m.ChatID >= first && m.ChatID < first+int64(n) && strings.Contains(m.Text, tag) {
			per[m.ChatID]++
		}
	}
	return per, len(per)
}

// commander sends echo commands from a fixed set of users and checks their answers.
type commander struct {
	t     *testing.T
	tg    *telegramtest.Server
	mu    sync.Mutex
	sent  map[int64][]string // chat → tags, in the order sent
	total int
}

func newCommander(t *testing.T, tg *telegramtest.Server) *commander {
	return &commander{t: t, tg: tg, sent: map[int64][]string{}}
}

// send sends echoCommand(tag) from user id in their private chat.
func (c *commander) send(id int64, tag string) {
	u, chat := privateUser(id)
	c.mu.Lock()
	c.sent[id] = append(c.sent[id], tag)
	c.total++
	c.mu.Unlock()
	c.tg.SendText(chat, u, echoCommand(tag))
}

// sentCount is how many commands were sent so far.
func (c *commander) sentCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// answered counts the commands answered at least once.
func (c *commander) answered() int {
	all := c.tg.AllSent()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for chat, tags := range c.sent {
		for _, tag := range tags {
			if countSent(all, chat, echoAnswer(tag)) > 0 {
				n++
			}
		}
	}
	return n
}

// waitAll waits until every command sent so far is answered, within d.
func (c *commander) waitAll(what string, d time.Duration) {
	c.t.Helper()
	c.mu.Lock()
	want := c.total
	c.mu.Unlock()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c.answered() >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("%s: %d of %d commands answered within %v", what, c.answered(), want, d)
}

// checkExactlyOnce fails the test for every command not answered exactly once, every
// message in the users' chats that answers no command, and (inOrder) every chat whose
// answers came in another order than its commands.
func (c *commander) checkExactlyOnce(inOrder bool) {
	c.t.Helper()
	all := c.tg.AllSent()
	c.mu.Lock()
	defer c.mu.Unlock()
	for chat, tags := range c.sent {
		msgs := sentTo(all, chat)
		for _, tag := range tags {
			if n := countSent(all, chat, echoAnswer(tag)); n != 1 {
				c.t.Errorf("chat %d: command %q answered %d times; want exactly once", chat, echoCommand(tag), n)
			}
		}
		if len(msgs) != len(tags) {
			c.t.Errorf("chat %d: %d messages for %d commands:\n%s", chat, len(msgs), len(tags), dumpMessages(msgs))
		}
		if !inOrder {
			continue
		}
		var got []string
		for _, m := range msgs {
			for _, tag := range tags {
				if strings.Contains(m.Text, echoAnswer(tag)) {
					got = append(got, tag)
				}
			}
		}
		if !slices.Equal(got, tags) {
			c.t.Errorf("chat %d: answers in the order %v; the commands were sent in the order %v", chat, got, tags)
		}
	}
}

// checkOrderAcrossKill is checkExactlyOnce(true) for commands a kill -9 met: an answer in
// flight at the kill may come twice, back to back, and at most maxTwice in all.
func (c *commander) checkOrderAcrossKill(maxTwice int) {
	c.t.Helper()
	all := c.tg.AllSent()
	c.mu.Lock()
	defer c.mu.Unlock()
	twice := 0
	for chat, tags := range c.sent {
		msgs := sentTo(all, chat)
		var got []string
		for _, m := range msgs {
			matched := false
			for _, tag := range tags {
				if strings.Contains(m.Text, echoAnswer(tag)) {
					got, matched = append(got, tag), true
				}
			}
			if !matched {
				c.t.Errorf("chat %d: a message that answers none of its commands: %q", chat, m.Text)
			}
		}
		var once []string
		for i, tag := range got {
			if i > 0 && got[i-1] == tag && (i < 2 || got[i-2] != tag) {
				twice++
				continue
			}
			once = append(once, tag)
		}
		if !slices.Equal(once, tags) {
			c.t.Errorf("chat %d: answers %v for the commands %v; want each once (twice back to back when in flight at the kill), in order", chat, got, tags)
		}
	}
	if twice > maxTwice {
		c.t.Errorf("%d answers came twice; at most the %d in flight at the kill may", twice, maxTwice)
	}
	if twice > 0 {
		c.t.Logf("%d answers in flight at the kill came twice", twice)
	}
}

// waitDrained waits until the shared database has no unhandled update and no queued message.
func (r *replicas) waitDrained() {
	r.t.Helper()
	probe := &heraldProc{dbURL: r.dbURL}
	conn := dbConn(r.t, probe)
	waitFor(r.t, "every update handled and the outbox empty", func() bool {
		var updates, outbox int
		err := conn.QueryRow(context.Background(),
			`SELECT (SELECT count(*) FROM updates WHERE handled_at IS NULL), (SELECT count(*) FROM outbox)`).Scan(&updates, &outbox)
		return err == nil && updates == 0 && outbox == 0
	})
}
