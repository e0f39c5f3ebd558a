package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// ciConfig is the YAML connecting herald to a test master, with chat subscribed by default.
func ciConfig(m *buildbottest.Master, chatID int64, events string) string {
	return fmt.Sprintf(`ci:
  - name: main
    type: buildbot
    url: %s
    poll_interval: 2s
chats:
  - id: %d
    events: [%s]
`, m.URL(), chatID, events)
}

// eventKinds lists the events herald stored for a builder, in order, with derived kinds:
// e.g. "3:finished[failure problem]".
func eventKinds(t *testing.T, dbURL, builder string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT b.number, e.kind, COALESCE(e.payload->>'Derived', '')
		FROM ci_events e JOIN builds b ON b.conn = e.conn AND b.build_id = e.build_id
		WHERE b.builder = $1 ORDER BY e.id`, builder)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var num int
		var kind, derived string
		if err := rows.Scan(&num, &kind, &derived); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d:%s%s", num, kind, derived))
	}
	return out
}

// countWith counts the chat's messages containing every part.
func countWith(msgs []telegramtest.Message, parts ...string) int {
	n := 0
	for _, m := range msgs {
		if containsAll(m.Text, parts...) {
			n++
		}
	}
	return n
}

// A real master runs success, failure, success on one builder; herald reports the start and
// result of each, a problem on the failure and a recovery after it — and a build that
// finished while herald was down is reported once after it comes back.
func TestE2EBuildbotProblemRecovery(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciConfig(m, team.ID, "started, finished, problem, recovery")})
	h.start()

	run := func(o buildbottest.Outcome) int {
		t.Helper()
		m.SetOutcome(buildbottest.BuilderToggle, o)
		brid := m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
		return waitRequest(t, m, brid, true).Number
	}
	n1 := run(buildbottest.Success)
	n2 := run(buildbottest.Failure)

	// herald goes down while the third build runs and finishes.
	waitFor(t, "the problem message", func() bool { return countWith(tg.Messages(team.ID), "Problem") == 1 })
	h.stop(syscall.SIGTERM)
	n3 := run(buildbottest.Success)
	h.start()

	waitFor(t, "the recovery message", func() bool { return countWith(tg.Messages(team.ID), "Recovery") >= 1 })
	// Let anything duplicated arrive before counting: a barrier command in the same chat.
	tg.SendText(team, alice, "/getid")
	waitFor(t, "the barrier reply", func() bool { return countWith(tg.Messages(team.ID), "Your ID") == 1 })
	time.Sleep(2 * time.Second)

	msgs := tg.Messages(team.ID)
	if got := countWith(msgs, "Recovery"); got != 1 {
		t.Errorf("%d recovery messages; want 1", got)
	}
	if got := countWith(msgs, "Problem"); got != 1 {
		t.Errorf("%d problem messages; want 1", got)
	}
	for _, n := range []int{n1, n2, n3} {
		num := fmt.Sprintf("#%d", n)
		if countWith(msgs, "toggle", num) == 0 {
			t.Errorf("no message about toggle %s", num)
		}
	}
	if !containsAll(strings.Join(texts(msgs), "\n"), fmt.Sprintf("#%d", n2), "compile") {
		t.Errorf("the failure does not name its failing step:\n%s", strings.Join(texts(msgs), "\n---\n"))
	}

	want := []string{
		fmt.Sprintf("%d:started", n1), fmt.Sprintf(`%d:finished["success"]`, n1),
		fmt.Sprintf("%d:started", n2), fmt.Sprintf(`%d:finished["failure", "problem", "worse"]`, n2),
		fmt.Sprintf("%d:started", n3), fmt.Sprintf(`%d:finished["success", "recovery", "better"]`, n3),
	}
	got := eventKinds(t, h.dbURL, buildbottest.BuilderToggle)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("stored events:\n %v\nwant\n %v", got, want)
	}
}

func texts(msgs []telegramtest.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

// waitRequest waits for the build of build request brid to exist (and, with complete, to end).
func waitRequest(t *testing.T, m *buildbottest.Master, brid int, complete bool) buildbottest.Build {
	t.Helper()
	var found buildbottest.Build
	waitFor(t, fmt.Sprintf("the build of request %d", brid), func() bool {
		for _, b := range m.Builds() {
			if b.RequestID == brid && (b.Complete || !complete) {
				found = b
				return true
			}
		}
		return false
	})
	return found
}
