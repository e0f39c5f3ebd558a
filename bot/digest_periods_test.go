package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

// TestDigestCountsLateBuild: a build that finished a second before 09:00 but whose event
// herald stored only after the 09:00 digest ran (a late webhook, a catch-up) is counted by
// the next digest: once, not in none. A build stored just before the end is in the period's
// digest, which runs DigestGrace after the end and not before.
func TestDigestCountsLateBuild(t *testing.T) {
	e := newDigestEnv(t)
	day := func(d, h, m, s int) time.Time { return time.Date(2026, 6, d, h, m, s, 0, time.UTC) }
	e.exec(`INSERT INTO chats (id, type) VALUES (30, 'group')`)
	if err := e.st.SetDigestSchedule(e.ctx, 30, 0, "CRON_TZ=UTC 0 9 * * *", false, day(1, 10, 0, 0)); err != nil {
		t.Fatal(err)
	}
	finished := func(id string, at time.Time) ci.Build {
		return ci.Build{Conn: "bb", ID: id, Number: len(id), Builder: id, Branch: "main",
			StartedAt: at.Add(-time.Minute), FinishedAt: at, Complete: true, Result: ci.ResultSuccess}
	}
	// Stored at 08:59:59.9, in a transaction that commits after 09:00.
	e.record(finished("ontime", day(2, 8, 59, 59)), day(2, 8, 59, 59).Add(900*time.Millisecond))

	e.setNow(day(2, 9, 0, 0).Add(DigestGrace - time.Millisecond))
	e.run(e.job())
	if got := e.take(30); len(got) != 0 {
		t.Fatalf("digest before its grace passed: %q", got)
	}
	e.setNow(day(2, 9, 0, 0).Add(DigestGrace))
	e.run(e.job())
	first := e.take(30)
	if len(first) != 1 || !strings.Contains(first[0], "ontime: 1") || strings.Contains(first[0], "late") {
		t.Fatalf("the 2 June digest: %q, want one counting ontime only", first)
	}

	// Finished 08:59:59, stored 09:00:30: after the digest of its finish's period ran.
	e.record(finished("late", day(2, 8, 59, 59)), day(2, 9, 0, 30))
	e.setNow(day(3, 9, 0, 0).Add(DigestGrace))
	e.run(e.job())
	second := e.take(30)
	if len(second) != 1 || !strings.Contains(second[0], "late: 1 (1 ✅)") || strings.Contains(second[0], "ontime") {
		t.Fatalf("the 3 June digest: %q, want one counting the late build (and not ontime again)", second)
	}
}
