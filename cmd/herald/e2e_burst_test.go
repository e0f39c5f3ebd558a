package main

// End-to-end tests of issue 12's items 1, 2 and 6 against the real binary, a real Buildbot
// master and the fake Bot API with Telegram's limits enforced: a command answered during a
// fan-out, twenty builders breaking at once told as a few messages, a recovery answering
// its problem.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// burstChat is a group subscribed to problem and recovery of the burst builders.
var burstChat = telegramtest.Chat{ID: -100777, Type: "supergroup", Title: "Release team"}

// burstYAML subscribes burstChat to the burst builders' problems and recoveries, and chats
// first..first+n-1 to every result of the pass builder.
func burstYAML(first int64, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "chats:\n  - id: %d\n    events: [problem, recovery]\n    builders: [\"burst-*\"]\n", burstChat.ID)
	for id := first; id < first+int64(n); id++ {
		fmt.Fprintf(&b, "  - id: %d\n    events: [finished]\n    builders: [%s]\n", id, buildbottest.BuilderPass)
	}
	return b.String()
}

// A /getid sent while herald fans one build out to 300 chats is answered within a second's
// worth of the fan-out (Telegram's global 30/s): counted in messages the fake accepted
// after the command, not in wall time. The fan-out still reaches every chat once, no 429.
func TestE2EReplyDuringFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("a Buildbot master; 300 messages at Telegram's rate")
	}
	const first, chats = 800001, 300
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())
	h := newHerald(t, heraldOptions{tg: tg, extra: ciYAML(m) + burstYAML(first, chats)})
	h.start()

	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	fanOut := func() int {
		n := 0
		for _, msg := range tg.AllSent() {
			if msg.ChatID >= first && msg.ChatID < first+chats {
				n++
			}
		}
		return n
	}
	waitFor(t, "the fan-out under way", func() bool { return fanOut() >= 30 })
	aliceChat := telegramtest.PrivateChat(alice)
	before, asked := fanOut(), time.Now()
	tg.SendText(aliceChat, alice, "/getid")
	reply := waitText(t, tg, aliceChat.ID, "Your ID is <code>111</code>")
	after := fanOut() - before
	t.Logf("/getid answered %v after it was sent, %d fan-out messages later (of %d sent before it)",
		reply.SentAt.Sub(asked).Round(time.Millisecond), after, before)
	// A second of Telegram's global budget, and the sends already in flight when it came.
	if limit := 30 + 8; after > limit {
		t.Errorf("the reply went out %d fan-out messages after the command; want at most %d (one second at 30/s and the sends in flight)", after, limit)
	}
	if left := chats - fanOut(); left < 100 {
		t.Logf("only %d fan-out messages were left when the reply went out: the command came late in the fan-out", left)
	}
	waitFor(t, "the fan-out in every chat", func() bool { return fanOut() == chats })
	waitOutboxEmpty(t, h)
	if n := fanOut(); n != chats {
		t.Errorf("the fan-out sent %d messages; want one per chat, %d", n, chats)
	}
	if s := tg.Stats(); s.RateLimited != 0 {
		t.Errorf("%d 429s; want none", s.RateLimited)
	}
}

// burstNamed is which of the n burst builders the chat's messages since message index from
// name (edits applied), and the messages themselves.
func burstNamed(tg *telegramtest.Server, from, n int) (map[string]bool, []telegramtest.Message) {
	msgs := tg.Messages(burstChat.ID)
	if from > len(msgs) {
		from = len(msgs)
	}
	msgs = msgs[from:]
	named := map[string]bool{}
	for i := 1; i <= n; i++ {
		b := buildbottest.BurstBuilder(i)
		for _, msg := range msgs {
			if strings.Contains(msg.Text, "<b>"+b+"</b>") {
				named[b] = true
			}
		}
	}
	return named, msgs
}

// runBurst forces every burst builder with outcome o and waits until Buildbot finished
// build number of each; it returns when the last one was seen finished.
func runBurst(t *testing.T, m *buildbottest.Master, n int, o buildbottest.Outcome, number int) time.Time {
	t.Helper()
	m.SetOutcome(buildbottest.BurstOutcome, o)
	for i := 1; i <= n; i++ {
		m.Force(buildbottest.BurstBuilder(i), map[string]any{"branch": "main"})
	}
	for i := 1; i <= n; i++ {
		m.WaitBuild(buildbottest.BurstBuilder(i), number)
	}
	return time.Now()
}

// Twenty builders breaking on one change reach a group subscribed to problem as at most three
// messages that name all twenty, loud, with no 429; their recoveries likewise, each a reply
// to the problem message of its builders.
func TestE2EBurstOfProblemsAndRecoveries(t *testing.T) {
	if testing.Short() {
		t.Skip("a Buildbot master with 20 builders")
	}
	const n = 20
	m := buildbottest.Start(t, buildbottest.Options{Burst: n})
	tg := newFakeTelegram(t, telegramtest.DefaultLimits())
	h := newHerald(t, heraldOptions{tg: tg, extra: ciYAML(m) + burstYAML(0, 0)})
	h.start()

	// Green first, so that the failures are problems; the group hears nothing of them.
	runBurst(t, m, n, buildbottest.Success, 1)
	waitFor(t, "herald to store the 20 green builds", func() bool {
		return dbCount(t, h, `SELECT count(*) FROM builds WHERE builder LIKE 'burst-%' AND complete AND result = 'success'`) == n
	})

	finished := runBurst(t, m, n, buildbottest.Failure, 2)
	var problems []telegramtest.Message
	waitFor(t, "messages naming all 20 broken builders", func() bool {
		named, msgs := burstNamed(tg, 0, n)
		problems = msgs
		return len(named) == n
	})
	t.Logf("all 20 problems named %v after the last build finished, in %d messages", time.Since(finished).Round(100*time.Millisecond), len(problems))
	waitOutboxEmpty(t, h)
	_, problems = burstNamed(tg, 0, n)
	if len(problems) > 3 {
		t.Errorf("20 problems came as %d messages; want at most 3:%s", len(problems), dumpMessages(problems))
	}
	problemIDs := map[int]bool{}
	for _, p := range problems {
		problemIDs[p.MessageID] = true
		if p.Silent {
			t.Errorf("problem message %d is silent; problems notify with sound", p.MessageID)
		}
	}
	for _, p := range problems {
		// A message showing more than one problem names them under a headline.
		if strings.Count(p.Text, "<b>burst-") > 1 && !containsAll(p.Text, "builds broke</b> on <code>main</code>") {
			t.Errorf("problem message %d shows several builds without the headline: %q", p.MessageID, p.Text)
		}
	}
	t.Logf("problem messages:%s", dumpMessages(problems))

	runBurst(t, m, n, buildbottest.Success, 3)
	var recoveries []telegramtest.Message
	waitFor(t, "messages naming all 20 recovered builders", func() bool {
		named, msgs := burstNamed(tg, len(problems), n)
		recoveries = msgs
		return len(named) == n
	})
	waitOutboxEmpty(t, h)
	_, recoveries = burstNamed(tg, len(problems), n)
	t.Logf("recovery messages:%s", dumpMessages(recoveries))
	if len(recoveries) > 3 {
		t.Errorf("20 recoveries came as %d messages; want at most 3:%s", len(recoveries), dumpMessages(recoveries))
	}
	for _, r := range recoveries {
		if !problemIDs[r.ReplyTo] {
			t.Errorf("recovery message %d replies to %d; want one of the problem messages %v:%s", r.MessageID, r.ReplyTo, problemIDs, dumpMessages(recoveries))
		}
	}
	if s := tg.Stats(); s.RateLimited != 0 {
		t.Errorf("%d 429s; want none", s.RateLimited)
	}
}
