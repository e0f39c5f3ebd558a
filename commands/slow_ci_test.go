package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// rewire changes the env's deps and builds its registry again, as herald wires it.
func (e *env) rewire(change func(d *commands.Deps)) {
	change(&e.deps)
	e.reg = commands.NewRegistry(commands.NewGate(e.deps))
	commands.Register(e.reg, e.deps)
}

// handle runs one request on ctx; the error is returned, not fatal.
func (e *env) handle(ctx context.Context, r commands.Request) (commands.Response, error) {
	e.t.Helper()
	return e.reg.Handle(ctx, r)
}

// pressReq is the request of pressing the button labelled label in res.
func pressReq(t *testing.T, chat, user int64, res commands.Response, label string) commands.Request {
	t.Helper()
	b := findButton(t, res, label)
	r := req(chat, user, "")
	r.MessageID = 20
	r.Button = &commands.Pressed{QueryID: "q", Data: b.Data}
	return r
}

// hang is a CI call that answers only when its context ends, as an HTTP client does against
// a master that accepted the connection and never answers.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return fmt.Errorf("fake ci: %w", ctx.Err())
}

// budget is a handler context that runs out when the test says so: the handler's budget
// ending during a CI call, without a timed wait.
type budget struct {
	context.Context
	once sync.Once
	done chan struct{}
}

func newBudget() *budget {
	return &budget{Context: context.Background(), done: make(chan struct{})}
}

func (b *budget) expire()                     { b.once.Do(func() { close(b.done) }) }
func (b *budget) Done() <-chan struct{}       { return b.done }
func (b *budget) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (b *budget) Err() error {
	select {
	case <-b.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// outer bounds a test's handler call, so a handler that fails to bound its CI calls fails
// the test instead of hanging it.
func outer(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const slow = 50 * time.Millisecond

// forceForm goes through /force pass up to the filled-in form.
func forceForm(e *env) commands.Response {
	e.t.Helper()
	form := e.send(admin, admin, "/force pass")
	e.press(admin, admin, form, "Branch*")
	return e.send(admin, admin, "main")
}

// TestSlowCIForce: a Force call the CI does not answer within CITimeout ends in a reply that
// says so and that the build may have started, and in an audit row that says the same
// (issue 8, item 4).
func TestSlowCIForce(t *testing.T) {
	e := newEnv(t)
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	form := forceForm(e)
	e.bb.force = func(ctx context.Context, _ ci.ForceRequest) (ci.ForceResult, error) {
		return ci.ForceResult{}, hang(ctx)
	}
	res, err := e.handle(outer(t), pressReq(t, admin, admin, form, "▶ Start"))
	if err != nil {
		t.Fatalf("want an answer, got error %v", err)
	}
	mustContain(t, res, "bb: the CI did not answer in 50ms.", "may have started")
	if !res.Replies[0].Edit || hasKeyboard(res) {
		t.Fatalf("the form should give way to the answer: %s", dump(res))
	}
	log := e.audit()
	if len(log) != 1 || log[0].Outcome != "failed" || log[0].Command != "force" || log[0].Builder != "pass" ||
		log[0].Detail != "the CI did not answer in 50ms; the build may have started" {
		t.Fatalf("audit: %+v", log)
	}
}

// TestForceAuditedWhenBudgetEnds: the handler's own time runs out while the CI is asked to
// force; the audit row is still written (on a context of its own).
func TestForceAuditedWhenBudgetEnds(t *testing.T) {
	e := newEnv(t)
	form := forceForm(e)
	ctx := newBudget()
	e.bb.force = func(cctx context.Context, _ ci.ForceRequest) (ci.ForceResult, error) {
		ctx.expire()
		return ci.ForceResult{}, hang(cctx)
	}
	res, err := e.handle(ctx, pressReq(t, admin, admin, form, "▶ Start"))
	if err != nil {
		t.Fatalf("want an answer, got error %v", err)
	}
	mustContain(t, res, "bb: the CI did not answer in 15s.", "may have started")
	log := e.audit()
	if len(log) != 1 || log[0].Outcome != "failed" || !strings.Contains(log[0].Detail, "the build may have started") {
		t.Fatalf("audit: %+v", log)
	}
}

// TestSlowCIStop: the same for /stop's confirm button.
func TestSlowCIStop(t *testing.T) {
	e := newEnv(t)
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	runningSlow(e)
	res := e.send(groupID, admin, "/stop slow")
	res = e.press(groupID, admin, res, "slow #7")
	res = e.send(groupID, admin, "stuck")
	e.bb.stop = func(ctx context.Context, _, _ string) error { return hang(ctx) }
	res, err := e.handle(outer(t), pressReq(t, groupID, admin, res, "⏹ Stop it"))
	if err != nil {
		t.Fatalf("want an answer, got error %v", err)
	}
	mustContain(t, res, "bb: the CI did not answer in 50ms.", "may have been stopped")
	log := e.audit()
	if len(log) != 1 || log[0].Outcome != "failed" || log[0].Command != "stop" ||
		log[0].Detail != "the CI did not answer in 50ms; the build may have been stopped" {
		t.Fatalf("audit: %+v", log)
	}
}

// TestSlowCIKeyboardPress: a press whose CI call runs out of time says so in its notice and
// leaves the keyboard, so pressing again retries; it is not "this keyboard has expired".
func TestSlowCIKeyboardPress(t *testing.T) {
	e := newEnv(t)
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	runningSlow(e)
	forceKB := e.send(groupID, admin, "/force")
	watchKB := e.send(groupID, admin, "/watch")
	e.bb.schedulers = func(ctx context.Context) ([]ci.ForceScheduler, error) { return nil, hang(ctx) }
	e.bb.running = func(ctx context.Context) ([]ci.Build, error) { return nil, hang(ctx) }
	for _, r := range []commands.Request{pressReq(t, groupID, admin, forceKB, "pass"), pressReq(t, groupID, admin, watchKB, "slow")} {
		res, err := e.handle(outer(t), r)
		if err != nil || res.Notice != "bb: the CI did not answer in 50ms." || len(res.Replies) != 0 {
			t.Fatalf("press: %s %v", dump(res), err)
		}
	}
}

// TestSlowCIReadCommands: every other CI call of these commands is bounded too, and the
// user is told which CI did not answer instead of "internal error" or silence.
func TestSlowCIReadCommands(t *testing.T) {
	e := newEnv(t)
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	runningSlow(e)
	stopButton := commands.Response{Replies: []commands.Reply{{Keyboard: [][]commands.Button{{{Text: "Stop", Data: commands.StopData("bb", "901")}}}}}}
	e.bb.builders = func(ctx context.Context) ([]ci.Builder, error) { return nil, hang(ctx) }
	e.bb.workers = func(ctx context.Context) ([]ci.Worker, error) { return nil, hang(ctx) }
	e.bb.running = func(ctx context.Context) ([]ci.Build, error) { return nil, hang(ctx) }
	e.bb.build = func(ctx context.Context, _ string) (ci.Build, error) { return ci.Build{}, hang(ctx) }
	e.bb.schedulers = func(ctx context.Context) ([]ci.ForceScheduler, error) { return nil, hang(ctx) }
	for _, tt := range []struct {
		name string
		r    commands.Request
	}{
		{"list builders", req(groupID, admin, "/list builders")},
		{"list workers", req(groupID, admin, "/list workers all")},
		{"watch keyboard", req(groupID, admin, "/watch")},
		{"watch typed", req(groupID, admin, "/watch slow")},
		{"stop list", req(groupID, admin, "/stop")},
		{"stop button", pressReq(t, groupID, admin, stopButton, "Stop")},
		{"force", req(groupID, admin, "/force")},
		{"force typed", req(groupID, admin, "/force pass")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.handle(outer(t), tt.r)
			if msg, ok := commands.AsUser(err); ok {
				res, err = commands.Say(msg), nil
			}
			if err != nil {
				t.Fatalf("want an answer, got error %v", err)
			}
			mustContain(t, res, "bb: the CI did not answer in 50ms.")
		})
	}
}
