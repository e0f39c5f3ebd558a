package commands_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

func withHistory(e *env) {
	e.bb.last = func(ctx context.Context, builder string, n int) ([]ci.Build, error) {
		if builder != "pass" {
			return nil, nil
		}
		return []ci.Build{{Conn: "bb", ID: "5", Number: 5, Builder: "pass", Complete: true, Result: ci.ResultFailure,
			FinishedAt: e.now.Add(-3 * time.Hour), StateText: "failed compile"}}, nil
	}
	e.bb.workers = func(ctx context.Context) ([]ci.Worker, error) {
		return []ci.Worker{{Conn: "bb", Name: "w1", Connected: true}, {Conn: "bb", Name: "w2"},
			{Conn: "bb", Name: "w3", Connected: true, Busy: true}}, nil
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	withHistory(e)
	runningSlow(e)
	tests := []struct {
		name, cmd string
		want      []string
		not       []string
	}{
		{name: "online", cmd: "/status", want: []string{
			"💤 <b>pass</b>: idle — last pass #5 ❌ failure, 3h ago",
			"🔄 <b>slow</b>: running — no builds yet",
			`<a href="http://bb/builders/2/builds/7">slow #7</a>, step sleep`,
		}, not: []string{"old"}},
		{name: "all", cmd: "/status all", want: []string{"⚫ <b>old</b>: offline"}},
		{name: "one", cmd: "/status pass", want: []string{"<b>pass</b>"}, not: []string{"slow"}},
		{name: "unknown", cmd: "/status nosuch", want: []string{"There is no builder nosuch."}},
		{name: "last", cmd: "/last", want: []string{"❌ pass #5: failure, 3h ago — failed compile", "▫️ <b>slow</b>: no builds yet"}},
		{name: "last unknown", cmd: "/last <x>", want: []string{"There is no builder &lt;x&gt;."}},
		{name: "list builders", cmd: "/list builders", want: []string{"• pass", "1 more offline; /list builders all shows them."}, not: []string{"old"}},
		{name: "list builders all", cmd: "/list builders all", want: []string{"• old (offline)"}},
		{name: "list workers all", cmd: "/list workers all", want: []string{"• w1\n", "• w2 (disconnected)", "• w3 (busy)"}},
		{name: "list workers", cmd: "/list workers", want: []string{"• w1\n• w3 (busy)\n1 more disconnected"}, not: []string{"w2"}},
		{name: "list what", cmd: "/list", want: []string{"What should I list?"}},
		{name: "version", cmd: "/version", want: []string{"herald 1.2.3"}},
		{name: "source", cmd: "/source", want: []string{`<a href="https://example.org/herald">`}},
		{name: "unknown command", cmd: "/frobnicate", want: []string{"Unknown command /frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.send(groupID, nobody, tt.cmd)
			mustContain(t, res, tt.want...)
			for _, n := range tt.not {
				if strings.Contains(text(res), n) {
					t.Fatalf("%q should not be in:\n%s", n, text(res))
				}
			}
		})
	}
}

func TestStatusCIDown(t *testing.T) {
	e := newEnv(t)
	other := &fakeCI{name: "gl", builders: func(ctx context.Context) ([]ci.Builder, error) {
		return nil, errors.New("connection refused")
	}}
	e.deps.CI = append(e.deps.CI, other)
	reg := commands.NewRegistry(commands.NewGate(e.deps))
	commands.Register(reg, e.deps)
	res, err := reg.Handle(context.Background(), req(groupID, nobody, "/status"))
	if err != nil {
		t.Fatal(err)
	}
	// Two connections: builders are named conn/builder, and the broken one says so.
	mustContain(t, res, "<b>bb/pass</b>", "⚠️ gl: the CI did not answer.")
	res, _ = reg.Handle(context.Background(), req(groupID, nobody, "/status bb/slow"))
	mustContain(t, res, "<b>bb/slow</b>")
}

func TestWatch(t *testing.T) {
	e := newEnv(t)
	mustContain(t, e.send(groupID, nobody, "/watch"), "No builds are running.")
	runningSlow(e)
	kb := e.send(groupID, nobody, "/watch")
	res := e.press(groupID, nobody, kb, "slow")
	mustContain(t, res, "Watching <a href=\"http://bb/builders/2/builds/7\">slow #7</a>")
	// Again, typed: no second watch.
	mustContain(t, e.send(groupID, nobody, "/watch slow"), "Already watching")
	mustContain(t, e.send(groupID, nobody, "/watch pass"), "pass has no running builds.")
	ws, err := e.st.ChatWatches(context.Background(), groupID)
	if err != nil || len(ws) != 1 || ws[0].BuildID != "901" || ws[0].Conn != "bb" {
		t.Fatalf("watches: %+v %v", ws, err)
	}
}

func TestTextAnswers(t *testing.T) {
	e := newEnv(t)
	if res := e.send(groupID, nobody, "hello all"); len(res.Replies) != 0 {
		t.Fatalf("group chatter answered: %s", dump(res))
	}
	mustContain(t, e.send(nobody, nobody, "hello"), "Send /help")
	e.send(admin, admin, "/force pass")
	mustContain(t, e.send(admin, admin, "hello"), "use the buttons of your /force")
}

func TestButtonData(t *testing.T) {
	e := newEnv(t)
	r := req(groupID, admin, "")
	for _, data := range []string{"force:", "force:{", `force:{"a":""}`, `force:{"a":"zap"}`, "stop:[]", `notify:{"a":"toggle","v":"nope"}`, "nosuch:x"} {
		r.Button = &commands.Pressed{Data: data}
		res, err := e.reg.Handle(context.Background(), r)
		if err != nil || res.Notice == "" {
			t.Fatalf("%q: %s %v", data, dump(res), err)
		}
	}
}

// overviewCI is a provider with the ci.Overviewer capability: /status and /last must take
// everything from one overview and never ask builder by builder.
type overviewCI struct {
	*fakeCI
	calls    int
	overview func(ctx context.Context) (ci.Overview, error)
}

func (o *overviewCI) Overview(ctx context.Context) (ci.Overview, error) {
	o.calls++
	return o.overview(ctx)
}

func withOverview(t *testing.T, e *env, at time.Time) *overviewCI {
	t.Helper()
	o := &overviewCI{fakeCI: &fakeCI{name: "bb",
		last: func(ctx context.Context, builder string, n int) ([]ci.Build, error) {
			t.Errorf("LastBuilds(%s) called although the provider has an overview", builder)
			return nil, nil
		},
		builders: func(ctx context.Context) ([]ci.Builder, error) {
			t.Error("Builders called although the provider has an overview")
			return nil, nil
		},
	}}
	o.overview = func(ctx context.Context) (ci.Overview, error) {
		return ci.Overview{
			Builders: []ci.Builder{{Conn: "bb", Name: "pass", Online: true}, {Conn: "bb", Name: "slow", Online: true}, {Conn: "bb", Name: "old"}},
			Running:  []ci.Build{{Conn: "bb", ID: "901", Number: 7, Builder: "slow", CurrentStep: "sleep", URL: "http://bb/builders/2/builds/7"}},
			Last: map[string]ci.Build{"pass": {Conn: "bb", ID: "5", Number: 5, Builder: "pass", Complete: true, Result: ci.ResultFailure,
				FinishedAt: e.now.Add(-3 * time.Hour), StateText: "failed compile"}},
			At: at,
		}, nil
	}
	e.rewire(func(d *commands.Deps) { d.CI = []ci.Provider{o} })
	return o
}

func TestStatusFromOverview(t *testing.T) {
	e := newEnv(t)
	o := withOverview(t, e, e.now)
	mustContain(t, e.send(groupID, nobody, "/status"),
		"💤 <b>pass</b>: idle — last pass #5 ❌ failure, 3h ago",
		"🔄 <b>slow</b>: running — no builds yet",
		`<a href="http://bb/builders/2/builds/7">slow #7</a>, step sleep`)
	mustContain(t, e.send(groupID, nobody, "/last all"), "❌ pass #5: failure, 3h ago — failed compile", "▫️ <b>slow</b>: no builds yet", "▫️ <b>old</b>: no builds yet")
	mustContain(t, e.send(groupID, nobody, "/status slow"), "<b>slow</b>")
	if o.calls != 3 {
		t.Errorf("%d overviews for 3 commands, want one each", o.calls)
	}
	for _, cmd := range []string{"/status", "/last"} {
		if res := e.send(groupID, nobody, cmd); strings.Contains(text(res), "as of") {
			t.Errorf("%s from a fresh overview says its age:\n%s", cmd, text(res))
		}
	}
}

// An answer from the provider's cache says how old it is.
func TestStatusSaysTheAgeOfACachedAnswer(t *testing.T) {
	e := newEnv(t)
	withOverview(t, e, e.now.Add(-12*time.Second))
	mustContain(t, e.send(groupID, nobody, "/status"), "<i>as of 12 s ago</i>")
	mustContain(t, e.send(groupID, nobody, "/last"), "<i>as of 12 s ago</i>")
}

// /status and /last bound their CI calls like every command: a CI that does not answer is
// named in the reply, with an overview or without.
func TestSlowCIStatusAndLast(t *testing.T) {
	e := newEnv(t)
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	e.bb.builders = func(ctx context.Context) ([]ci.Builder, error) { return nil, hang(ctx) }
	for _, cmd := range []string{"/status", "/last"} {
		res, err := bounded(t, e, req(groupID, admin, cmd))
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		mustContain(t, res, "bb: the CI did not answer in 50ms.")
	}
	// Builders answer, the last build of one does not.
	e.bb.builders = func(ctx context.Context) ([]ci.Builder, error) {
		return []ci.Builder{{Conn: "bb", Name: "pass", Online: true}}, nil
	}
	e.bb.last = func(ctx context.Context, builder string, n int) ([]ci.Build, error) { return nil, hang(ctx) }
	res, err := bounded(t, e, req(groupID, admin, "/last"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, res, "bb: the CI did not answer in 50ms.")

	o := withOverview(t, e, e.now)
	o.overview = func(ctx context.Context) (ci.Overview, error) { return ci.Overview{}, hang(ctx) }
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	for _, cmd := range []string{"/status", "/last"} {
		res, err := bounded(t, e, req(groupID, admin, cmd))
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		mustContain(t, res, "bb: the CI did not answer in 50ms.")
	}
}

// bounded handles r under outer's deadline and fails the test when that deadline, not the
// command's own CITimeout, is what ended it.
func bounded(t *testing.T, e *env, r commands.Request) (commands.Response, error) {
	t.Helper()
	ctx := outer(t)
	res, err := e.handle(ctx, r)
	if ctx.Err() != nil {
		t.Fatalf("%s ran until the test's deadline: its CI calls are not bounded by CITimeout", r.Text)
	}
	return res, err
}

// /status and /last ask every CI connection at once, each call bounded by CITimeout: with
// five connections that do not answer, the reply names each of them, in the order of the
// connections, after about one CITimeout. Asked one after another they would take five, and
// with the real timeouts run past the handler's budget (HandlerBudget) into "that took too
// long". That the five calls were in flight together says so without timing the reply.
func TestStatusAsksConnectionsAtOnce(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	inFlight, most := 0, 0
	hangs := func(ctx context.Context) ([]ci.Builder, error) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		return nil, hang(ctx)
	}
	var conns []ci.Provider
	var want []string
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("ci%d", i)
		conns = append(conns, &fakeCI{name: name, builders: hangs})
		want = append(want, "⚠️ "+name+": the CI did not answer in 50ms.")
	}
	e.rewire(func(d *commands.Deps) { d.CI, d.CITimeout = conns, slow })
	for _, cmd := range []string{"/status", "/last"} {
		t.Run(strings.TrimPrefix(cmd, "/"), func(t *testing.T) {
			mu.Lock()
			most = 0
			mu.Unlock()
			res, err := bounded(t, e, req(groupID, admin, cmd))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Replies) != 1 {
				t.Fatalf("want one reply: %s", dump(res))
			}
			got := strings.Split(res.Replies[0].Text, "\n")
			if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
				t.Fatalf("reply:\n%s\nwant first, in this order:\n%s", res.Replies[0].Text, strings.Join(want, "\n"))
			}
			mu.Lock()
			defer mu.Unlock()
			if most != len(conns) {
				t.Errorf("at most %d of %d connections were asked at once, want all", most, len(conns))
			}
		})
	}
}
