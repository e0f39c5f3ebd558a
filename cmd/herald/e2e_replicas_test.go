package main

// End-to-end tests of several herald replicas on one database (issue 13, "Done means"):
// three real herald processes, one Postgres database, one bot token, a real Buildbot master
// and the fake Bot API with Telegram's limits enforced. Exactly-once is asserted by counting
// what every chat received at the fake; the one allowance is the issue's: after a kill -9 of
// the sender, the messages in flight at the kill (at most the sender's 8 workers) may arrive
// twice.

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// senderWorkers is how many messages the sender has in flight at most: the most a kill -9
// of its process may send twice.
const senderWorkers = 8

// The roles every installation with one CI connection has; each is held by one replica.
var replicaRoles = []string{"poller", "intake", "sender", "ci:main", "housekeeping"}

// replicaCI is the Buildbot connection of these tests: polled every 2 s besides the stream,
// as in the delivery test, so a build reaches herald soon whichever replica follows it.
func replicaCI(m *buildbottest.Master) string {
	return fmt.Sprintf("ci:\n  - name: main\n    type: buildbot\n    url: %s\n    poll_interval: 2s\n", m.URL())
}

// checkOneHolderEach fails the test unless each role is held by exactly one replica, and
// that replica's metric says so (and the others' say 0).
func checkOneHolderEach(t *testing.T, r *replicas, roleNames ...string) {
	t.Helper()
	for _, role := range roleNames {
		h := r.holder(role)
		for _, o := range r.procs {
			if !running(o) {
				continue
			}
			want := 0
			if o == h {
				want = 1
			}
			if got := leaderMetric(o, role); got != want {
				t.Errorf("replica %d: herald_role_leader{role=%q} is %d; want %d (holder: replica %d)%s", r.index(o), role, got, want, r.index(h), r.describe())
			}
		}
	}
}

// waitTakeover waits, within d of since, until a replica other than gone logs that it took
// role (one more line than before, the counts tookRoleCounts gave), and returns it.
func waitTakeover(t *testing.T, r *replicas, role string, gone *heraldProc, before []int, since time.Time, d time.Duration) *heraldProc {
	t.Helper()
	for time.Since(since) < d {
		for i, h := range r.procs {
			if h != gone && running(h) && tookRole(h, role) > before[i] {
				return h
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no replica took the role %q within %v of the kill of replica %d; took-the-role lines per replica %v%s",
		role, d, r.index(gone), r.tookRoleCounts(role), r.describe())
	return nil
}

// Polling mode: commands from 20 chats are each answered exactly once, and the fake never
// sees two getUpdates at once; then kill -9 of the poller's holder: a command sent right after
// it is answered within 15 s, once.
func TestE2EReplicasPolling(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Buildbot master and three heralds")
	}
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())
	r := newReplicas(t, replicaOptions{tg: tg, extra: replicaCI(m)})
	r.start()
	checkOneHolderEach(t, r, replicaRoles...)

	c := newCommander(t, tg)
	for i := range 20 {
		c.send(610001+int64(i), fmt.Sprintf("q%02d", i))
	}
	c.waitAll("commands from 20 chats", 90*time.Second)
	waitFor(t, "every update acknowledged to Telegram", func() bool { return tg.Pending() == 0 })
	r.waitDrained()
	c.checkExactlyOnce(false)

	poller := r.holder("poller")
	before := r.tookRoleCounts("poller")
	poller.stop(syscall.SIGKILL)
	killed := time.Now()
	c.send(610001, "afterkill")
	c.send(610002, "afterkill")
	c.waitAll("the commands sent right after the kill -9 of the poller", 15*time.Second)
	next := waitTakeover(t, r, "poller", poller, before, killed, 15*time.Second)
	t.Logf("replica %d took the poller from replica %d; answered %v after the kill", r.index(next), r.index(poller), time.Since(killed).Round(time.Millisecond))
	checkOneHolderEach(t, r, replicaRoles...)
	waitFor(t, "every update acknowledged to Telegram", func() bool { return tg.Pending() == 0 })
	r.waitDrained()
	c.checkExactlyOnce(false)
	if n := tg.PollOverlaps(); n != 0 {
		t.Errorf("the fake saw a getUpdates while another was open %d times; want never", n)
	}
	t.Logf("poll conflicts %d, stats %+v", tg.PollConflicts(), tg.Stats())
}

// One build fanned out to 300 chats reaches every chat once with no 429; then another, and
// the sender's process is killed -9 half way: every chat still gets it, at most the messages
// in flight twice, and another replica takes the sender over (logs it and sends) within 10 s.
func TestE2EReplicasFanOutAndSenderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Buildbot master and three heralds; 600 messages at Telegram's rate")
	}
	const first, chats = 700001, 300
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())
	r := newReplicas(t, replicaOptions{tg: tg, extra: replicaCI(m) + chatsYAML(first, chats)})
	r.start()
	checkOneHolderEach(t, r, replicaRoles...)

	n1 := waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true).Number
	waitFor(t, "build 1 in every chat", func() bool { _, n := buildCounts(tg, first, chats, n1); return n == chats })
	r.waitDrained()
	per1, _ := buildCounts(tg, first, chats, n1)
	for id := int64(first); id < first+chats; id++ {
		if per1[id] != 1 {
			t.Errorf("chat %d got build %d %d times; want exactly once", id, n1, per1[id])
		}
	}
	if s := tg.Stats(); s.RateLimited != 0 {
		t.Errorf("the fan-out of build 1 provoked %d 429s; want none", s.RateLimited)
	}

	sender := r.holder("sender")
	before := r.tookRoleCounts("sender")
	n2 := waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true).Number
	waitFor(t, "build 2 in 60 chats", func() bool { _, n := buildCounts(tg, first, chats, n2); return n >= 60 })
	sender.stop(syscall.SIGKILL)
	killed := time.Now()
	_, atKill := buildCounts(tg, first, chats, n2)
	next := waitTakeover(t, r, "sender", sender, before, killed, 10*time.Second)
	tookAfter := time.Since(killed)
	waitFor(t, "build 2 in every chat after the kill", func() bool { _, n := buildCounts(tg, first, chats, n2); return n == chats })
	r.waitDrained()

	per2, _ := buildCounts(tg, first, chats, n2)
	var twice []int64
	for id := int64(first); id < first+chats; id++ {
		switch n := per2[id]; {
		case n == 2:
			twice = append(twice, id)
		case n != 1:
			t.Errorf("chat %d got build %d %d times; want once (twice at most for a message in flight at the kill)", id, n2, n)
		}
	}
	if len(twice) > senderWorkers {
		t.Errorf("%d chats got build %d twice: %v; at most the %d messages in flight at the kill may go twice", len(twice), n2, twice, senderWorkers)
	}
	per1, _ = buildCounts(tg, first, chats, n1)
	for id := int64(first); id < first+chats; id++ {
		if per1[id] != 1 {
			t.Errorf("after the kill, chat %d has build %d %d times; want still exactly once", id, n1, per1[id])
		}
	}
	if s := tg.Stats(); s.RateLimited != 0 {
		t.Errorf("the fan-outs provoked %d 429s; want none, across the failover too", s.RateLimited)
	}
	// Taking the sender over means sending: the first message the fake accepted after the
	// kill is the new leader's.
	var firstAfter time.Duration = -1
	for _, msg := range tg.AllSent() {
		if msg.SentAt.After(killed) {
			firstAfter = msg.SentAt.Sub(killed)
			break
		}
	}
	if firstAfter < 0 || firstAfter > 10*time.Second {
		t.Errorf("the new leader's first send came %v after the kill; want within 10 s", firstAfter)
	}
	t.Logf("replica %d killed with build %d in %d chats; replica %d took the sender over (its line seen %v after the kill); first send %v after the kill; %d chats got it twice %v",
		r.index(sender), n2, atKill, r.index(next), tookAfter.Round(time.Millisecond), firstAfter.Round(time.Millisecond), len(twice), twice)
	checkOneHolderEach(t, r, "sender")
}

// A rolling restart of all three replicas, one by one (SIGTERM, start again, wait until
// ready), while commands arrive and builds' notifications are sent: no command and no
// notification is lost or duplicated, and every chat's messages keep their order.
func TestE2EReplicasRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Buildbot master and three heralds, and restarts each")
	}
	const first, chats = 800001, 100
	const users = 10
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())
	r := newReplicas(t, replicaOptions{tg: tg, extra: replicaCI(m) + chatsYAML(first, chats)})
	r.start()
	checkOneHolderEach(t, r, replicaRoles...)

	c := newCommander(t, tg)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a command every 250 ms, from users taking turns, all along the restart
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.send(810001+int64(k%users), fmt.Sprintf("r%03d", k))
			}
		}
	}()
	var numbers []int
	build := func() {
		numbers = append(numbers, waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true).Number)
	}
	build()
	for i, h := range r.procs {
		build()
		// Stopped in the middle of the build's fan-out (100 chats take Telegram 3 s or more).
		n := numbers[len(numbers)-1]
		waitFor(t, fmt.Sprintf("build %d in 10 chats", n), func() bool { _, got := buildCounts(tg, first, chats, n); return got >= 10 })
		sentBefore, commandsBefore, away := tg.Stats().Sent, c.sentCount(), time.Now()
		h.stop(syscall.SIGTERM)
		if running(h) {
			t.Fatalf("replica %d still runs after SIGTERM", i)
		}
		// The others take over what it held before it comes back, so every role changes
		// hands at least once while messages flow.
		for _, role := range replicaRoles {
			r.holder(role)
		}
		r.startOne(h)
		t.Logf("replica %d restarted; in the %v it was away %d messages were sent and %d commands arrived; roles now:%s",
			i, time.Since(away).Round(time.Millisecond), tg.Stats().Sent-sentBefore, c.sentCount()-commandsBefore, r.describe())
	}
	build()
	close(stop)
	wg.Wait()

	c.waitAll("every command sent during the rolling restart", 90*time.Second)
	last := numbers[len(numbers)-1]
	waitFor(t, "the last build in every chat", func() bool { _, n := buildCounts(tg, first, chats, last); return n == chats })
	waitFor(t, "every update acknowledged to Telegram", func() bool { return tg.Pending() == 0 })
	r.waitDrained()
	checkOneHolderEach(t, r, replicaRoles...)

	c.checkExactlyOnce(true)
	all := tg.AllSent()
	for id := int64(first); id < first+chats; id++ {
		if got := numbersIn(sentTo(all, id)); !slices.Equal(got, numbers) {
			t.Errorf("chat %d got builds %v; want %v, each once and in order", id, got, numbers)
		}
	}
	if n := tg.PollOverlaps(); n != 0 {
		t.Errorf("the fake saw a getUpdates while another was open %d times during the rolling restart; want never", n)
	}
	if s := tg.Stats(); s.RateLimited != 0 {
		t.Errorf("%d 429s during the rolling restart; want none", s.RateLimited)
	}
	t.Logf("%d commands, builds %v to %d chats; poll conflicts %d; stats %+v", c.total, numbers, chats, tg.PollConflicts(), tg.Stats())
}

// Webhook mode, three replicas behind one address (a round-robin proxy): every replica takes
// updates, commands from 20 chats are each answered once, several commands of one chat are
// answered in order although different replicas stored them, a build reaches every
// subscribed chat once, and a kill -9 of the replica handling updates loses nothing.
func TestE2EReplicasWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Buildbot master and three heralds")
	}
	t.Parallel()
	const first, chats = 900001, 50
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())
	var rr *roundRobin
	r := newReplicas(t, replicaOptions{
		tg: tg, mode: "webhook", secret: "e2e-replicas-webhook-secret", extra: replicaCI(m) + chatsYAML(first, chats),
		webhookURL: func(addrs []string) string {
			rr = newRoundRobin(t, addrs)
			return rr.srv.URL + "/telegram/webhook"
		},
	})
	r.start()
	waitFor(t, "the webhook registered at the proxy", func() bool { u, _ := tg.Webhook(); return strings.HasPrefix(u, rr.srv.URL) })
	checkOneHolderEach(t, r, "webhook", "intake", "sender", "ci:main", "housekeeping")

	c := newCommander(t, tg)
	for i := range 20 {
		c.send(910001+int64(i), fmt.Sprintf("w%02d", i))
	}
	c.waitAll("commands from 20 chats", 90*time.Second)
	r.waitDrained()
	c.checkExactlyOnce(false)

	// Five chats send five commands each, interleaved: consecutive updates of one chat land
	// on different replicas.
	ordered := newCommander(t, tg)
	for k := range 5 {
		for i := range 5 {
			ordered.send(920001+int64(i), fmt.Sprintf("o%d", k))
		}
	}
	ordered.waitAll("five commands from each of five chats", 90*time.Second)
	r.waitDrained()
	ordered.checkExactlyOnce(true)
	for i, n := range rr.hitCounts() {
		if n == 0 {
			t.Errorf("replica %d got no webhook delivery through the proxy (hits %v)", i, rr.hitCounts())
		}
	}

	n1 := waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true).Number
	waitFor(t, "the build in every chat", func() bool { _, n := buildCounts(tg, first, chats, n1); return n == chats })
	r.waitDrained()
	per, _ := buildCounts(tg, first, chats, n1)
	for id := int64(first); id < first+chats; id++ {
		if per[id] != 1 {
			t.Errorf("chat %d got build %d %d times; want exactly once", id, n1, per[id])
		}
	}

	// Ten chats send three commands each, and once a few are answered the replica handling
	// updates is killed -9 with the rest received, stored, being handled or in flight: each
	// chat's answers still come in order, the ones in flight at most twice. Then twenty
	// chats send a command each, answered exactly once by the replica that took over.
	intake := r.holder("intake")
	before := r.tookRoleCounts("intake")
	inFlight := newCommander(t, tg)
	for k := range 3 {
		for i := range 10 {
			inFlight.send(940001+int64(i), fmt.Sprintf("f%d", k))
		}
	}
	waitFor(t, "a few of the thirty commands answered", func() bool { return inFlight.answered() >= 5 })
	intake.stop(syscall.SIGKILL)
	killed := time.Now()
	after := newCommander(t, tg)
	for i := range 20 {
		after.send(930001+int64(i), fmt.Sprintf("k%02d", i))
	}
	after.waitAll("commands sent right after the kill -9 of the intake's replica", 15*time.Second)
	inFlight.waitAll("the commands sent before the kill", 15*time.Second)
	next := waitTakeover(t, r, "intake", intake, before, killed, 15*time.Second)
	r.waitDrained()
	c.checkExactlyOnce(false)
	ordered.checkExactlyOnce(true)
	inFlight.checkOrderAcrossKill(senderWorkers)
	after.checkExactlyOnce(false)
	if s := tg.Stats(); s.RateLimited != 0 {
		t.Errorf("%d 429s; want none", s.RateLimited)
	}
	if n := tg.Calls("getUpdates"); n != 0 {
		t.Errorf("a replica called getUpdates %d times in webhook mode; want never", n)
	}
	t.Logf("webhook deliveries per replica %v; replica %d took the intake from replica %d; all answered %v after the kill",
		rr.hitCounts(), r.index(next), r.index(intake), time.Since(killed).Round(time.Millisecond))
}
