package main

// End-to-end tests of what a real Buildbot master can do to herald (issue 8): a NUL in a
// forced build's reason, cancelled builds between a success and a failure, and many /status
// commands against one master.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// A forced build whose reason holds a NUL (anyone who may force a build in Buildbot's UI can
// type one) is reported with the NUL taken out, and the builds after it are still reported:
// before, Postgres refused the event, the watcher reconnected, met the same event first, and
// never reached another.
func TestE2EBuildbotNULReasonDoesNotWedge(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciConfig(m, team.ID, "finished")})
	h.start()

	brid := m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main\x00x", "reason": "evil\x00reason\x07"})
	bad := waitRequest(t, m, brid, true)
	if got := bad.Property("reason"); !strings.Contains(got, "\x00") {
		t.Fatalf("the master did not keep the NUL in the reason (%q): the test proves nothing", got)
	}
	waitText(t, tg, team.ID, "<b>pass</b>", buildLink(bad.Number), "Reason: evilreason")

	// Later builds are still reported.
	for i := 0; i < 2; i++ {
		b := waitRequest(t, m, m.Force(buildbottest.BuilderDocs, map[string]any{"branch": "main"}), true)
		waitText(t, tg, team.ID, "<b>docs-site</b>", buildLink(b.Number))
	}
	conn := dbConn(t, h)
	var reason, branch string
	if err := conn.QueryRow(context.Background(), `SELECT reason, branch FROM builds WHERE build_id = $1`, fmt.Sprint(bad.ID)).Scan(&reason, &branch); err != nil {
		t.Fatal(err)
	}
	if reason != "evilreason" || branch != "mainx" {
		t.Errorf("stored reason %q branch %q, want them without their control characters", reason, branch)
	}
	// A restart catches up over the same build again without tripping on it.
	h.stop(syscall.SIGTERM)
	h.start()
	b := waitRequest(t, m, m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"}), true)
	waitText(t, tg, team.ID, "<b>pass</b>", buildLink(b.Number))
}

// buildLink is how a build notification ends its build's link: "…/builds/3\">#3</a>".
func buildLink(number int) string { return fmt.Sprintf(`">#%d</a>`, number) }

// Cancelled builds say nothing about the code: on a real master, success → cancelled →
// failure is a problem, and failure → cancelled → success a recovery; each cancelled build
// still tells the chats that want `cancelled`.
func TestE2EBuildbotCancelledBuildsArePassedOver(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciConfig(m, team.ID, "problem, recovery, cancelled")})
	h.start()

	run := func(o buildbottest.Outcome) int {
		t.Helper()
		m.SetOutcome(buildbottest.BuilderToggle, o)
		return waitRequest(t, m, m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"}), true).Number
	}
	cancelled := func() int {
		t.Helper()
		m.Hold(buildbottest.BuilderToggle)
		brid := m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
		m.Stop(waitRequest(t, m, brid, false).ID, "e2e cancels it")
		b := waitRequest(t, m, brid, true)
		if b.Results == nil || *b.Results != 6 {
			t.Fatalf("toggle #%d: results %v, want cancelled", b.Number, b.Results)
		}
		return b.Number
	}
	n1 := run(buildbottest.Success)
	n2 := cancelled()
	n3 := run(buildbottest.Failure)
	waitText(t, tg, team.ID, "Problem", "<b>toggle</b>", buildLink(n3))
	n4 := cancelled()
	n5 := run(buildbottest.Success)
	waitText(t, tg, team.ID, "Recovery", "<b>toggle</b>", buildLink(n5))

	// Let anything more arrive before counting: a barrier command in the same chat.
	tg.SendText(team, alice, "/getid")
	waitText(t, tg, team.ID, "Your ID")
	waitOutboxEmpty(t, h)
	msgs := tg.Messages(team.ID)
	if got := countWith(msgs, "Problem"); got != 1 {
		t.Errorf("%d problem messages, want 1:\n%s", got, dumpMessages(msgs))
	}
	if got := countWith(msgs, "Recovery"); got != 1 {
		t.Errorf("%d recovery messages, want 1:\n%s", got, dumpMessages(msgs))
	}
	for _, n := range []int{n2, n4} {
		if countWith(msgs, "<b>toggle</b>", buildLink(n), "cancelled") != 1 {
			t.Errorf("no cancelled message for toggle #%d:\n%s", n, dumpMessages(msgs))
		}
	}
	got := eventKinds(t, h.dbURL, buildbottest.BuilderToggle)
	want := []string{
		fmt.Sprintf(`%d:finished["success"]`, n1),
		fmt.Sprintf(`%d:finished["cancelled", "worse"]`, n2),
		fmt.Sprintf(`%d:finished["failure", "problem", "worse"]`, n3),
		fmt.Sprintf(`%d:finished["cancelled", "worse"]`, n4),
		fmt.Sprintf(`%d:finished["success", "recovery", "better"]`, n5),
	}
	var finished []string
	for _, e := range got {
		if strings.Contains(e, ":finished") {
			finished = append(finished, e)
		}
	}
	if strings.Join(finished, " ") != strings.Join(want, " ") {
		t.Errorf("stored results:\n %v\nwant\n %v", finished, want)
	}
}

// countingProxy stands between herald and a real master and counts the REST requests that
// pass (the websocket and its catch-up pass too, and are not counted while no build runs).
func countingProxy(t *testing.T, m *buildbottest.Master) (string, *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(m.URL())
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v2/") {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/", &n
}

// Many chats asking /status and /last at once cost the master a few requests, not 2N+3 per
// command: herald answers them from one overview, and says how old it is when it reuses it.
func TestE2EBuildbotStatusCostsFewRequests(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	for _, b := range []string{buildbottest.BuilderPass, buildbottest.BuilderFail, buildbottest.BuilderDocs} {
		waitRequest(t, m, m.Force(b, map[string]any{"branch": "main"}), true)
	}
	u, count := countingProxy(t, m)
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf("ci:\n  - name: main\n    type: buildbot\n    url: %s\n", u)})
	h.start()
	// The watcher's start-up catch-up goes through the proxy too: wait until it is quiet.
	waitQuiet(t, count)

	before := count.Load()
	chats := make([]telegramtest.Chat, 10)
	for i := range chats {
		chats[i] = telegramtest.Chat{ID: int64(-1002000000000 - i), Type: "supergroup", Title: fmt.Sprint("group ", i)}
		cmd := "/status"
		if i%2 == 1 {
			cmd = "/last all"
		}
		// One user per chat: herald's per-user command rate limit is not what is tested.
		tg.SendText(chats[i], telegramtest.User{ID: int64(500 + i), FirstName: fmt.Sprint("user ", i)}, cmd)
	}
	for i, c := range chats {
		if i%2 == 0 {
			waitText(t, tg, c.ID, "<b>pass</b>", "<b>fail</b>", "<b>docs-site</b>")
		} else {
			waitText(t, tg, c.ID, "pass #1", "fail #1", "docs-site #1", "<b>slow</b>: no builds yet")
		}
	}
	// An overview is 4 requests and is shared for 10 s; on a slow machine the ten commands may
	// span two or three of them. Asked builder by builder they cost 13 or more each.
	if n := count.Load() - before; n > 12 {
		t.Errorf("10 commands made %d REST requests, want at most 12", n)
	}
}

// waitQuiet waits until no request has passed for a second.
func waitQuiet(t *testing.T, count *atomic.Int64) {
	t.Helper()
	last, since := count.Load(), time.Now()
	waitFor(t, "the master's proxy to be quiet", func() bool {
		if n := count.Load(); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > time.Second
	})
}
