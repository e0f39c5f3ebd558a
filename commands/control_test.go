package commands_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// fakeControl is a CI whose workers and schedulers can be controlled; it records each call.
type fakeControl struct {
	*fakeCI
	mu    sync.Mutex
	calls []string
	fail  error
}

func (f *fakeControl) ControlWorker(ctx context.Context, name string, action ci.WorkerAction, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s worker %s: %s", action, name, reason))
	return f.fail
}

func (f *fakeControl) SetSchedulerEnabled(ctx context.Context, name string, enabled bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("scheduler %s enabled=%v", name, enabled))
	return f.fail
}

func (f *fakeControl) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// controlEnv wires /worker, /scheduler, /hello and /shutdown as herald does, on a real database.
func controlEnv(t *testing.T, cis ...ci.Provider) (*commands.Registry, *envLite) {
	t.Helper()
	e := &envLite{t: t, st: storetest.New(t)}
	deps := commands.Deps{CI: cis, Store: e.st, Log: zerolog.Nop()}
	add := func(reg *commands.Registry) {
		reg.Add(commands.Hello(), commands.Shutdown(deps), commands.Worker(deps), commands.Scheduler(deps))
	}
	known := commands.NewRegistry(nil)
	add(known)
	// admin may do every dangerous thing; docsman may do them only on docs-* builders,
	// which must not reach the CI's workers and schedulers.
	m, err := authz.Compile(authz.Spec{Rules: []authz.Rule{
		{Commands: []string{"dangerous"}, Who: []string{"123456"}, Line: 1},
		{Commands: []string{"dangerous"}, Who: []string{"555"}, Builders: []string{"docs-*"}, Line: 2},
	}}, known.Known())
	if err != nil {
		t.Fatal(err)
	}
	deps.Authz = func() *authz.Matrix { return m }
	reg := commands.NewRegistry(commands.NewGate(deps))
	add(reg)
	e.reg = reg
	return reg, e
}

func TestWorkerAndSchedulerCommands(t *testing.T) {
	bb := &fakeControl{fakeCI: &fakeCI{name: "bb"}}
	_, e := controlEnv(t, bb)

	mustContain(t, e.send(groupID, admin, "/worker pause w1 disk full"),
		"⏸ U paused worker <b>w1</b>: it starts no new builds", "/worker unpause w1 undoes it")
	mustContain(t, e.send(groupID, admin, "/worker unpause w1"), "▶️ U unpaused worker <b>w1</b>")
	mustContain(t, e.send(groupID, admin, "/worker stop w1"), "⏹ U asked worker <b>w1</b> to stop")
	mustContain(t, e.send(groupID, admin, "/scheduler disable nightly"), "⏸ U disabled scheduler <b>nightly</b>")
	mustContain(t, e.send(groupID, admin, "/scheduler enable nightly"), "▶️ U enabled scheduler <b>nightly</b>")
	want := []string{
		"pause worker w1: disk full (by U (telegram 123456))",
		"unpause worker w1: by U (telegram 123456)",
		"stop worker w1: by U (telegram 123456)",
		"scheduler nightly enabled=false",
		"scheduler nightly enabled=true",
	}
	if got := bb.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for _, tc := range []struct{ text, want string }{
		{"/worker", "Usage: /worker pause|unpause|stop NAME [reason]"},
		{"/worker kill w1", "Usage: /worker pause|unpause|stop NAME [reason]"},
		{"/scheduler off nightly", "Usage: /scheduler enable|disable NAME."},
		{"/worker pause", "Usage: /worker pause|unpause|stop NAME [reason]"},
		{"/scheduler enable", "Usage: /scheduler enable|disable NAME."},
	} {
		mustContain(t, e.send(groupID, admin, tc.text), tc.want)
	}

	// Refused: someone with no dangerous right at all (at the gate), and someone whose
	// right is limited to builders (in the handler). Neither reaches the CI; both audited.
	mustContain(t, e.send(groupID, nobody, "/worker pause w1"), "You may not use /worker.")
	mustContain(t, e.send(groupID, docsman, "/scheduler disable nightly"), "You may not use /scheduler.")
	if n := len(bb.Calls()); n != len(want) {
		t.Fatalf("a refused user reached the CI: %v", bb.Calls())
	}
	log := e.audit()
	var rows []string
	for _, r := range log {
		rows = append(rows, fmt.Sprintf("%d %s %s %s %s", r.UserID, r.Command, r.Args, r.Conn, r.Outcome))
	}
	slices.Sort(rows)
	wantRows := []string{
		"123456 scheduler disable nightly bb allowed",
		"123456 scheduler enable nightly bb allowed",
		"123456 worker pause w1 disk full bb allowed",
		"123456 worker stop w1 bb allowed",
		"123456 worker unpause w1 bb allowed",
		"555 scheduler disable nightly bb denied",
		"789012 worker pause w1  denied",
	}
	if !slices.Equal(rows, wantRows) {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(wantRows, "\n"))
	}

	// The CI's refusal is shown as it says it, and audited as failed.
	bb.fail = ci.Userf(fmt.Errorf("no"), "no worker w9 on bb")
	mustContain(t, e.sendErr(groupID, admin, "/worker pause w9"), "no worker w9 on bb")
	if last := e.audit()[0]; last.Args != "pause w9" || last.Outcome != "failed" {
		t.Errorf("newest audit row = %+v, want pause w9 failed", last)
	}
}

func TestControlNeedsConnectionWhenSeveral(t *testing.T) {
	a := &fakeControl{fakeCI: &fakeCI{name: "a"}}
	b := &fakeControl{fakeCI: &fakeCI{name: "b"}}
	_, e := controlEnv(t, a, b)
	mustContain(t, e.send(groupID, admin, "/worker pause w1"), "Several CI connections have workers: write CONN/w1 (e.g. a/w1).")
	mustContain(t, e.send(groupID, admin, "/worker pause b/w1"), "paused worker <b>b/w1</b>")
	if len(a.Calls()) != 0 || len(b.Calls()) != 1 {
		t.Fatalf("calls: a %v, b %v", a.Calls(), b.Calls())
	}
}

func TestHelloAndShutdown(t *testing.T) {
	_, e := controlEnv(t, &fakeControl{fakeCI: &fakeCI{name: "bb"}})
	seen := map[string]bool{}
	for range 40 {
		res := e.send(groupID, nobody, "/hello")
		if len(res.Replies) != 1 {
			t.Fatalf("/hello: %s", dump(res))
		}
		got := res.Replies[0].Text
		if !slices.Contains(commands.Greetings("U"), got) {
			t.Fatalf("/hello = %q, not one of %q", got, commands.Greetings("U"))
		}
		seen[got] = true
	}
	if len(seen) < 2 {
		t.Errorf("/hello always says the same: %v", seen)
	}
	mustContain(t, e.send(groupID, nobody, "/shutdown"),
		"Buildbot's REST API, which I talk to, offers no master shutdown",
		"/worker pause NAME", "/worker stop NAME", "/scheduler disable NAME")

	// A CI that can control nothing: /shutdown offers nothing it cannot do.
	_, plain := controlEnv(t, &fakeCI{name: "gh"})
	mustContain(t, plain.send(groupID, admin, "/worker pause w1"), "No CI connection here can control workers.")
	res := text(plain.send(groupID, nobody, "/shutdown"))
	if strings.Contains(res, "/worker") || strings.Contains(res, "/scheduler") {
		t.Errorf("/shutdown offers what no connection can do: %s", res)
	}
}

// envLite is a registry on a real database, for commands Register does not add.
type envLite struct {
	t   *testing.T
	st  *store.Store
	reg *commands.Registry
}

func (e *envLite) send(chat, user int64, text string) commands.Response {
	e.t.Helper()
	res, err := e.reg.Handle(context.Background(), req(chat, user, text))
	if err != nil {
		e.t.Fatalf("%s: %v", text, err)
	}
	return res
}

// sendErr sends a command expected to fail with a user error, and returns that as the reply
// the transport would show.
func (e *envLite) sendErr(chat, user int64, text string) commands.Response {
	e.t.Helper()
	_, err := e.reg.Handle(context.Background(), req(chat, user, text))
	msg, ok := commands.AsUser(err)
	if !ok {
		e.t.Fatalf("%s: error %v, want a user error", text, err)
	}
	return commands.Say(msg)
}

func (e *envLite) audit() []store.AuditEntry {
	e.t.Helper()
	log, err := e.st.AuditLog(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return log
}
