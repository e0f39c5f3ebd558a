package bot

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestDueAt: the period a digest covers is up to its last scheduled run, and a schedule in
// a zone follows that zone's clock through a DST change.
func TestDueAt(t *testing.T) {
	sched, at := schedule(t, "CRON_TZ=Europe/Berlin 0 9 * * *")
	tests := []struct {
		name            string
		last, now       string
		wantDue, wantNx string
	}{
		{"before the run", "2026-03-02T09:00:00Z", "2026-03-03T07:59:59Z", "", "2026-03-03T08:00:00Z"},
		{"at the run", "2026-03-02T09:00:00Z", "2026-03-03T08:00:00Z", "2026-03-03T08:00:00Z", "2026-03-04T08:00:00Z"},
		{"runs missed: only the last is due", "2026-03-02T09:00:00Z", "2026-03-05T12:00:00Z", "2026-03-05T08:00:00Z", "2026-03-06T08:00:00Z"},
		{"09:00 CET, then 09:00 CEST an hour earlier in UTC", "2026-03-28T08:00:00Z", "2026-03-29T07:30:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"},
		{"autumn: 09:00 CET an hour later in UTC", "2026-10-24T07:00:00Z", "2026-10-25T07:30:00Z", "", "2026-10-25T08:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, next := DueAt(sched, at(tt.last), at(tt.now))
			wantDue := time.Time{}
			if tt.wantDue != "" {
				wantDue = at(tt.wantDue)
			}
			if !due.Equal(wantDue) || !next.Equal(at(tt.wantNx)) {
				t.Errorf("DueAt = %v, %v; want %v, %v", due.UTC(), next.UTC(), wantDue.UTC(), at(tt.wantNx).UTC())
			}
		})
	}
}

// schedule parses spec; at reads the RFC 3339 times the cases are written in.
func schedule(t *testing.T, spec string) (sched cron.Schedule, at func(string) time.Time) {
	t.Helper()
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return sched, func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// digestEnv is a database with chats and builds, and digest jobs on an injected clock.
type digestEnv struct {
	t   *testing.T
	ctx context.Context
	st  *store.Store
	now atomic.Pointer[time.Time]
	num int
}

func newDigestEnv(t *testing.T) *digestEnv {
	e := &digestEnv{t: t, ctx: context.Background(), st: storetest.New(t)}
	return e
}

func (e *digestEnv) setNow(at time.Time) { e.now.Store(&at) }

// job is a digests job as a (re)started process would make it, on the env's clock.
func (e *digestEnv) job() *Digests {
	return NewDigests(e.st, JobOptions{Clock: func() time.Time { return *e.now.Load() }}, zerolog.New(zerolog.NewTestWriter(e.t)))
}

func (e *digestEnv) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.st.Pool().Exec(e.ctx, sql, args...); err != nil {
		e.t.Fatal(err)
	}
}

// build records a finished build of builder on main that ran from start for d.
func (e *digestEnv) build(builder string, r ci.Result, start time.Time, d time.Duration, owner string) {
	e.t.Helper()
	e.num++
	b := ci.Build{Conn: "bb", ID: builder + "-" + strconv.Itoa(e.num), Number: e.num, Builder: builder, Branch: "main",
		StartedAt: start, FinishedAt: start.Add(d), Complete: true, Result: r, Owner: owner, URL: "https://ci.example/b/" + builder}
	e.record(b, b.FinishedAt)
}

// record stores b as finished and says herald stored it at stored: the database's clock
// stamps the row, the env's clock is another, so the test sets what it means.
func (e *digestEnv) record(b ci.Build, stored time.Time) {
	e.t.Helper()
	if _, _, _, err := e.st.RecordEvent(e.ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &b, At: b.FinishedAt}); err != nil {
		e.t.Fatal(err)
	}
	e.exec(`UPDATE builds SET stored_at = $3 WHERE conn = $1 AND build_id = $2`, b.Conn, b.ID, stored)
}

// take removes and returns the queued texts for chat.
func (e *digestEnv) take(chat int64) []string {
	e.t.Helper()
	var out []string
	for _, q := range takeQueued(e.t, e.st, chat) {
		out = append(out, q.text)
	}
	return out
}

func (e *digestEnv) run(j *Digests) {
	e.t.Helper()
	if _, err := j.RunOnce(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// TestDigestsAcrossRestarts: a daily digest at 09:00 Berlin with an injected clock on a
// real database. It is not sent before its time, sent once at it with the period's counts,
// not again by the same job or by a restarted one, sent once (not never, not twice) for
// runs missed while herald was down, and skipped for an empty period unless asked.
func TestDigestsAcrossRestarts(t *testing.T) {
	e := newDigestEnv(t)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	day := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, berlin) }
	e.exec(`INSERT INTO chats (id, type) VALUES (10, 'group'), (11, 'group')`)
	e.setNow(day(2, 10, 0))
	for _, c := range []int64{10, 11} {
		if err := e.st.SetDigestSchedule(e.ctx, c, 0, "CRON_TZ=Europe/Berlin 0 9 * * *", c == 11, day(2, 10, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// Before the first period: not in any digest.
	e.build("docs", ci.ResultFailure, day(2, 8, 0), time.Minute, "old")
	// The first period, 2 March 10:00 to 3 March 09:00.
	e.build("docs", ci.ResultSuccess, day(2, 11, 0), time.Minute, "ann")
	e.build("docs", ci.ResultFailure, day(2, 12, 0), 2*time.Minute, "bob")
	e.build("docs", ci.ResultFailure, day(2, 13, 0), time.Minute, "bob")
	e.build("docs", ci.ResultSuccess, day(2, 14, 0), time.Minute, "cat")
	e.build("lint", ci.ResultSuccess, day(2, 15, 0), 30*time.Minute, "ann")
	e.build("tests", ci.ResultSuccess, day(2, 16, 0), 5*time.Minute, "ann")
	e.build("tests", ci.ResultFailure, day(2, 17, 0), 5*time.Minute, "dan")
	e.build("tests", ci.ResultCancelled, day(2, 18, 0), time.Minute, "dan")

	j := e.job()
	e.setNow(day(3, 8, 59))
	e.run(j)
	if got := e.take(10); len(got) != 0 {
		t.Fatalf("digest before its time: %q", got)
	}
	e.setNow(day(3, 9, 0).Add(DigestGrace))
	e.run(j)
	got := e.take(10)
	if len(got) != 1 {
		t.Fatalf("%d digests at 09:00, want 1: %q", len(got), got)
	}
	t.Logf("the digest:\n%s", got[0])
	for _, want := range []string{
		"Mon 2 Mar 10:00 – Tue 3 Mar 09:00 (Europe/Berlin)",
		"<b>8 builds</b> on 3 builders",
		"docs: 4 (2 ✅ 2 ❌)", "lint: 1 (1 ✅)", "tests: 3 (1 ✅ 1 ❌ 1 other)",
		"<b>Still broken</b> (1):", "<b>tests</b> on <code>main</code> broken for 15h55m", "by dan",
		"<b>Recovered</b> (2):\n✅ docs on <code>main</code> with", "by ann", "by cat",
		"<b>Flaky</b> (1):\n🔀 docs on <code>main</code>: results flipped 3 times",
		"<b>Slowest</b>:\n🐢 lint", "30m00s",
	} {
		if !strings.Contains(got[0], want) {
			t.Errorf("digest lacks %q:\n%s", want, got[0])
		}
	}
	if strings.Contains(got[0], "old") {
		t.Errorf("digest names a build from before its period:\n%s", got[0])
	}
	if len(e.take(11)) != 1 {
		t.Errorf("chat 11 got no digest")
	}

	e.setNow(day(3, 9, 1))
	e.run(j)
	e.run(e.job()) // a restart
	if got := e.take(10); len(got) != 0 {
		t.Fatalf("the same period again: %q", got)
	}

	// herald is down from 09:30 on 3 March to 11:00 on 5 March: the runs of the 4th and the
	// 5th are missed, and one digest covers them. tests is fixed meanwhile.
	e.build("tests", ci.ResultSuccess, day(4, 10, 0), time.Minute, "eve")
	e.setNow(day(5, 11, 0))
	e.run(e.job())
	got = e.take(10)
	if len(got) != 1 {
		t.Fatalf("%d digests after the downtime, want 1: %q", len(got), got)
	}
	for _, want := range []string{"Tue 3 Mar 09:00 – Thu 5 Mar 09:00", "<b>1 build</b> on 1 builder:", "tests: 1 (1 ✅)", "<b>Recovered</b> (1):\n✅ tests"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("catch-up digest lacks %q:\n%s", want, got[0])
		}
	}
	if strings.Contains(got[0], "Still broken") {
		t.Errorf("catch-up digest names a fixed builder as broken:\n%s", got[0])
	}
	e.take(11)

	// 6 March: nothing ran and nothing is broken. Chat 10 skips it, chat 11 asked for empty
	// periods too; neither is sent the period again.
	for i := 0; i < 2; i++ {
		e.setNow(day(6, 9, 0).Add(DigestGrace))
		e.run(e.job())
	}
	if got := e.take(10); len(got) != 0 {
		t.Errorf("an empty period was sent: %q", got)
	}
	if got := e.take(11); len(got) != 1 || !strings.Contains(got[0], "No builds in this period, and nothing is broken.") {
		t.Errorf("chat 11 (empty on): %q, want one empty digest", got)
	}
}

// TestDigestsTwoProcesses: two jobs (two processes after a failover that overlapped) run at
// the same scheduled time on one database; the period is sent once.
func TestDigestsTwoProcesses(t *testing.T) {
	e := newDigestEnv(t)
	t0 := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	e.exec(`INSERT INTO chats (id, type) VALUES (20, 'group')`)
	if err := e.st.SetDigestSchedule(e.ctx, 20, 0, "CRON_TZ=UTC * * * * *", true, t0); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for minute := 1; minute <= 5; minute++ {
		e.setNow(t0.Add(time.Duration(minute)*time.Minute + DigestGrace))
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.job().RunOnce(e.ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got := e.take(20)
		if len(got) != 1 {
			t.Errorf("minute %d: %d digests from four jobs, want 1", minute, len(got))
		}
		sent += len(got)
	}
	if sent != 5 {
		t.Errorf("%d digests in five minutes, want 5", sent)
	}
}
