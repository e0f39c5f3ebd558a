package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

var ops = telegramtest.Chat{ID: -1001000000077, Type: "supergroup", Title: "Ops"}

// remindMark starts a reminder (a digest's "Still broken" section does not).
const remindMark = "⏰ <b>Still broken"

// quietWindowNow is a quiet-hours window in UTC that holds now for the next two hours.
func quietWindowNow() string {
	now := time.Now().UTC()
	m := now.Hour()*60 + now.Minute()
	clock := func(m int) string { m = (m + 1440) % 1440; return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	return clock(m-60) + "-" + clock(m+120)
}

// digestCounts sums, over the digests sent to chat, the builds of builder they count, and
// how many were good and bad.
func digestCounts(tg *telegramtest.Server, chatID int64, builder string) (digests, builds, good, bad int) {
	line := regexp.MustCompile(`• ` + regexp.QuoteMeta(builder) + `: (\d+) \(([^)]*)\)`)
	part := regexp.MustCompile(`(\d+) (✅|❌)`)
	for _, m := range tg.Messages(chatID) {
		if !strings.Contains(m.Text, "📋 <b>Digest</b>") {
			continue
		}
		digests++
		g := line.FindStringSubmatch(m.Text)
		if g == nil {
			continue
		}
		n, _ := strconv.Atoi(g[1])
		builds += n
		for _, p := range part.FindAllStringSubmatch(g[2], -1) {
			k, _ := strconv.Atoi(p[1])
			if p[2] == "✅" {
				good += k
			} else {
				bad += k
			}
		}
	}
	return digests, builds, good, bad
}

// A real Buildbot master, the real herald, Telegram's fake. The team chat sets quiet hours
// that hold now, reminders every minute and a digest every minute; the ops chat only
// reminders. A build breaks: the team's problem message arrives silently (never dropped)
// with an Ack button, the ops chat's with sound. Both are reminded of the breakage after a
// minute with who broke it and the link; the team presses Ack on its problem message and
// is not reminded again, while ops is reminded once more a minute later, across a restart
// of herald. The team's digests, sent by the real scheduler at each minute, count the
// builds (one good, one bad) and no period is sent twice. /ack NAME acknowledges too.
func TestE2EQuietRemindDigest(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciConfig(m, team.ID, "problem, recovery")})
	h.start()

	window := quietWindowNow()
	tg.SendText(team, alice, "/quiet "+window+" UTC")
	waitText(t, tg, team.ID, "Quiet hours for this chat: "+strings.Replace(window, "-", "–", 1)+" UTC")
	tg.SendText(team, alice, "/remind 1m")
	waitText(t, tg, team.ID, "Reminders for this chat: every 1m")
	tg.SendText(team, alice, `/digest "* * * * *"`)
	waitText(t, tg, team.ID, "Digest for this chat: <code>* * * * *</code> (UTC)")
	tg.SendText(ops, bob, "/notify on")
	waitText(t, tg, ops.ID, "Notifications for this chat: problem, recovery.")
	tg.SendText(ops, bob, "/remind 1m")
	waitText(t, tg, ops.ID, "Reminders for this chat: every 1m")
	tg.SendText(team, alice, "/notify list")
	waitText(t, tg, team.ID, "Quiet hours for this chat:", "Digest for this chat:", "Reminders for this chat: every 1m")

	run := func(o buildbottest.Outcome) int {
		t.Helper()
		m.SetOutcome(buildbottest.BuilderToggle, o)
		brid := m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
		return waitRequest(t, m, brid, true).Number
	}
	run(buildbottest.Success)
	broke := run(buildbottest.Failure)
	num := fmt.Sprintf("#%d", broke)

	problem := waitText(t, tg, team.ID, "Problem", num)
	if !problem.Silent {
		t.Errorf("the problem in quiet hours made a sound: %+v", problem)
	}
	buttonData(t, problem, "Ack")
	opsProblem := waitText(t, tg, ops.ID, "Problem", num)
	if opsProblem.Silent {
		t.Errorf("the problem outside quiet hours was silent: %+v", opsProblem)
	}
	buttonData(t, opsProblem, "Ack")

	reminder := waitText(t, tg, team.ID, remindMark, "toggle", num, "href=")
	if !regexp.MustCompile(`on <code>main</code> broken for \d+m\d\ds since`).MatchString(reminder.Text) {
		t.Errorf("reminder does not say how long: %q\n%s", reminder.Text, dumpMessages(tg.Messages(team.ID)))
	}
	buttonData(t, reminder, "Ack toggle (main)")
	qid := press(t, tg, team, bob, problem, "Ack")
	if a := waitAnswer(t, tg, qid); a.Text != "Acknowledged: no more reminders of this breakage here." {
		t.Errorf("answer to Ack: %q", a.Text)
	}
	waitText(t, tg, team.ID, "acknowledged toggle")

	// A restart: the ack, the reminders' last times and the digests' last periods are in
	// Postgres, so nothing is repeated or skipped.
	h.stop(syscall.SIGTERM)
	h.start()

	// ops is reminded again a minute after its first reminder; the team, acked, is not.
	waitText(t, tg, ops.ID, remindMark, "toggle", num)
	waitFor(t, "ops's second reminder", func() bool { return countText(tg, ops.ID, remindMark) >= 2 })
	waitOutboxEmpty(t, h)
	if n := countText(tg, team.ID, remindMark); n != 1 {
		t.Errorf("team reminded %d times after acking, want once:\n%s", n, dumpMessages(tg.Messages(team.ID)))
	}
	// Reminders every minute go on while the test runs: at least the two waited for, and
	// never two within the interval (50 s leaves room for the job's 15 s rounds).
	var opsReminders []time.Time
	for _, msg := range tg.Messages(ops.ID) {
		if strings.Contains(msg.Text, remindMark) {
			opsReminders = append(opsReminders, msg.SentAt)
		}
	}
	if len(opsReminders) < 2 {
		t.Errorf("ops reminded %d times, want at least 2", len(opsReminders))
	}
	for i := 1; i < len(opsReminders); i++ {
		if gap := opsReminders[i].Sub(opsReminders[i-1]); gap < 50*time.Second {
			t.Errorf("ops reminded twice within %v, with a 1m interval:\n%s", gap, dumpMessages(tg.Messages(ops.ID)))
		}
	}

	// The digests so far, one a minute, count both builds between them.
	var builds, good, bad, digests int
	waitFor(t, "digests counting both builds", func() bool {
		digests, builds, good, bad = digestCounts(tg, team.ID, buildbottest.BuilderToggle)
		return builds >= 2
	})
	if builds != 2 || good != 1 || bad != 1 {
		t.Errorf("digests count %d builds (%d good, %d bad), want 2 (1, 1):\n%s", builds, good, bad, dumpMessages(tg.Messages(team.ID)))
	}
	for _, msg := range tg.Messages(team.ID) {
		if !strings.Contains(msg.Text, "📋 <b>Digest</b>") {
			continue
		}
		// A digest goes out for the minute it names: not before that minute's period is
		// over (and its grace passed), and before the next minute's is due.
		if end, ok := digestEnd(msg); !ok {
			t.Errorf("a digest without its period: %q", msg.Text)
		} else if sent := msg.SentAt.UTC(); sent.Before(end.Add(bot.DigestGrace)) || !sent.Before(end.Add(time.Minute)) {
			t.Errorf("a digest of the period ending %s sent at %s: %q", end.Format("15:04:05"), sent.Format("15:04:05.000"), msg.Text)
		}
		if !msg.Silent {
			t.Errorf("a digest made a sound: %q", msg.Text)
		}
	}
	if digests == 0 {
		t.Fatal("no digest")
	}
	if n := countText(tg, ops.ID, "📋 <b>Digest</b>"); n != 0 {
		t.Errorf("ops, without /digest, got %d digests", n)
	}
	checkPeriods(t, tg.Messages(team.ID))

	tg.SendText(ops, bob, "/ack toggle")
	waitText(t, tg, ops.ID, "✔️ @bob acknowledged toggle (main): no more reminders of this breakage here.")
}

// digestHead is a digest's first line: its period, in the schedule's zone (UTC here).
var digestHead = regexp.MustCompile(`📋 <b>Digest</b> (\w+ \d+ \w+ \d\d:\d\d) – (\w+ \d+ \w+ \d\d:\d\d) \(UTC\)`)

// digestEnd is the end of the period msg's digest names, in the year it was sent (the
// head shows none; a period ending in December read in January is the year before).
func digestEnd(msg telegramtest.Message) (time.Time, bool) {
	g := digestHead.FindStringSubmatch(msg.Text)
	if g == nil {
		return time.Time{}, false
	}
	to, err := time.Parse("Mon 2 Jan 15:04", g[2])
	if err != nil {
		return time.Time{}, false
	}
	sent := msg.SentAt.UTC()
	end := time.Date(sent.Year(), to.Month(), to.Day(), to.Hour(), to.Minute(), 0, 0, time.UTC)
	if end.After(sent.Add(24 * time.Hour)) {
		end = end.AddDate(-1, 0, 0)
	}
	return end, true
}

// checkPeriods fails unless the digests' periods follow one another: none is sent twice
// (across the restart too) and none overlaps the one before.
func checkPeriods(t *testing.T, msgs []telegramtest.Message) {
	t.Helper()
	head := digestHead
	var prevTo time.Time // the year is not shown: these are in year 0
	seen := false
	for _, m := range msgs {
		g := head.FindStringSubmatch(m.Text)
		if g == nil {
			continue
		}
		from, err1 := time.Parse("Mon 2 Jan 15:04", g[1])
		to, err2 := time.Parse("Mon 2 Jan 15:04", g[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("digest period %q: %v %v", g[0], err1, err2)
		}
		if !to.After(from) || seen && from.Before(prevTo) {
			t.Errorf("digest period %s – %s after one that ended %s: sent twice or overlapping", g[1], g[2], prevTo.Format("15:04"))
		}
		prevTo, seen = to, true
	}
	if !seen {
		t.Error("no digest period found")
	}
}
