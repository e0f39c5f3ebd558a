package bot

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestReminders: with an injected clock on a real database, a chat with /remind 4h is
// reminded of a builder broken longer than 4h, with who broke it and the link, once per 4h
// however often the job runs (two jobs at once too); /ack stops it; a fix and a new
// breakage remind again; the Ack button's build acks that breakage. A chat's /notify
// builder filter limits what it is reminded of, a paused chat is not reminded, and a chat in
// its quiet hours is reminded silently.
func TestReminders(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := st.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	// 1: reminders every 4h; 2: every 4h, only builders docs*; 3: paused; 4: every 4h, in
	// quiet hours all day, problem kept loud.
	exec(`INSERT INTO chats (id, type) VALUES (1, 'group'), (2, 'group'), (3, 'group'), (4, 'group');
		UPDATE chats SET paused_at = now() WHERE id = 3;
		INSERT INTO subscriptions (chat_id, events, builders) VALUES (2, '{problem}', '{docs*}');
		INSERT INTO chat_settings (chat_id, remind_every) VALUES (1, 14400), (2, 14400), (3, 14400);
		INSERT INTO chat_settings (chat_id, remind_every, quiet_from, quiet_to, quiet_zone, quiet_loud) VALUES (4, 14400, 0, 1439, 'UTC', '{problem}')`)
	t0 := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(at time.Time) { mu.Lock(); now = at; mu.Unlock() }
	job := func() *Reminders {
		return NewReminders(st, JobOptions{Clock: clock}, zerolog.New(zerolog.NewTestWriter(t)))
	}
	num := 0
	build := func(builder string, r ci.Result, at time.Time, owner string) string {
		t.Helper()
		num++
		id := builder + "-" + strings.Repeat("x", num)
		b := ci.Build{Conn: "bb", ID: id, Number: num, Builder: builder, Branch: "main", StartedAt: at.Add(-time.Minute), FinishedAt: at,
			Complete: true, Result: r, Owner: owner, Revision: "a1b2c3d4e5f6a7b8", URL: "https://ci.example/" + id}
		if _, _, _, err := st.RecordEvent(ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &b, At: at}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	take := func(chat int64) []queued { t.Helper(); return takeQueued(t, st, chat) }
	run := func(j *Reminders) {
		t.Helper()
		if _, err := j.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}

	build("docs", ci.ResultSuccess, t0, "ann")
	broke := build("docs", ci.ResultFailure, t0.Add(time.Hour), "bob") // broken from 09:00
	build("docs", ci.ResultFailure, t0.Add(2*time.Hour), "cat")
	build("tests", ci.ResultSuccess, t0, "ann")
	build("tests", ci.ResultFailure, t0.Add(90*time.Minute), "dan") // broken from 09:30

	j := job()
	set(t0.Add(4*time.Hour + 59*time.Minute)) // docs broken 3h59m
	run(j)
	if got := take(1); len(got) != 0 {
		t.Fatalf("reminded before 4h: %+v", got)
	}
	set(t0.Add(5*time.Hour + time.Minute)) // docs 4h01m, tests 3h31m
	run(j)
	var loud, quiet int
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE chat_id = 1 AND NOT silent), count(*) FILTER (WHERE chat_id = 4 AND silent) FROM outbox`).Scan(&loud, &quiet); err != nil || loud != 1 || quiet != 1 {
		t.Errorf("%d loud reminders to chat 1, %d silent ones to chat 4 in its quiet hours (%v); want 1 and 1", loud, quiet, err)
	}
	take(4)
	got := take(1)
	if len(got) != 1 {
		t.Fatalf("%d reminders, want 1: %+v", len(got), got)
	}
	for _, want := range []string{"Still broken", "<b>docs</b> on <code>main</code> broken for 4h01m since", "by bob", `href="https://ci.example/` + broke + `"`, "<code>a1b2c3d4e5f6</code>", "last failed"} {
		if !strings.Contains(got[0].text, want) {
			t.Errorf("reminder lacks %q:\n%s", want, got[0].text)
		}
	}
	if strings.Contains(got[0].text, "tests") {
		t.Errorf("reminded of tests, broken only 3h31m:\n%s", got[0].text)
	}
	if !strings.Contains(got[0].markup, commands.AckLabel+" docs (main)") {
		t.Errorf("reminder without its Ack button: %q", got[0].markup)
	}
	if got := take(2); len(got) != 1 || strings.Contains(got[0].text, "tests") {
		t.Errorf("chat 2 (docs* only): %+v, want one reminder of docs", got)
	}
	if got := take(3); len(got) != 0 {
		t.Errorf("paused chat reminded: %+v", got)
	}

	// Within the interval: nothing, from this job, a restarted one, or two at once. tests
	// reaches 4h at 13:30 and is due on its own.
	set(t0.Add(5*time.Hour + 20*time.Minute))
	run(j)
	run(job())
	if got := take(1); len(got) != 0 {
		t.Fatalf("reminded again within the interval: %+v", got)
	}
	set(t0.Add(5*time.Hour + 31*time.Minute))
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := job().RunOnce(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got = take(1)
	if len(got) != 1 || !strings.Contains(got[0].text, "tests") || strings.Contains(got[0].text, "docs") {
		t.Fatalf("three jobs at 13:31: %+v, want one reminder of tests only", got)
	}

	// /ack docs: no more reminders of this breakage, in chat 1 only.
	branches, err := st.AckBroken(ctx, 1, 0, "", "docs", 7, "@ann", now)
	if err != nil || len(branches) != 1 || branches[0] != "main" {
		t.Fatalf("AckBroken = %q, %v", branches, err)
	}
	set(t0.Add(9*time.Hour + 2*time.Minute)) // docs's next interval
	run(j)
	if got := take(1); len(got) != 0 {
		t.Fatalf("reminded of an acked breakage: %+v", got)
	}
	if got := take(2); len(got) != 1 || !strings.Contains(got[0].text, "docs") {
		t.Errorf("chat 2 did not ack: %+v, want its reminder of docs", got)
	}

	// docs is fixed and breaks again: a new breakage, reminded again after 4h.
	build("docs", ci.ResultSuccess, t0.Add(10*time.Hour), "eve")
	again := build("docs", ci.ResultFailure, t0.Add(11*time.Hour), "fay")
	set(t0.Add(15*time.Hour + time.Minute))
	run(j)
	got = take(1)
	if len(got) != 1 || !strings.Contains(got[0].text, "by fay") || !strings.Contains(got[0].text, "docs") {
		t.Fatalf("new breakage: %+v, want a reminder of docs broken by fay", got)
	}
	// Its Ack button names the build that broke it.
	builder, found, err := st.AckBuild(ctx, 1, 0, "bb", again, 7, "@ann", now)
	if err != nil || !found || builder != "docs" {
		t.Fatalf("AckBuild = %q %v %v", builder, found, err)
	}
	if _, found, err := st.AckBuild(ctx, 1, 0, "bb", "nope", 7, "@ann", now); err != nil || found {
		t.Fatalf("AckBuild of an unknown build = %v %v, want not found", found, err)
	}
	set(t0.Add(20 * time.Hour))
	run(j)
	for _, s := range take(1) {
		if strings.Contains(s.text, "docs") {
			t.Errorf("reminded of docs after its Ack button: %s", s.text)
		}
	}
}

// queued is a message a job queued, as the outbox holds it.
type queued struct{ text, markup string }

// takeQueued removes and returns what is queued for chat, oldest first.
func takeQueued(t *testing.T, st *store.Store, chat int64) []queued {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(),
		`DELETE FROM outbox WHERE chat_id = $1 RETURNING text, COALESCE(reply_markup, ''), id`, chat)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		q  queued
		id int64
	}
	var out []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.q.text, &r.q.markup, &r.id); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b row) int { return cmp.Compare(a.id, b.id) })
	qs := make([]queued, len(out))
	for i, r := range out {
		qs[i] = r.q
	}
	return qs
}
