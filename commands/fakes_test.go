package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// fakeCI is a Provider whose answers are function fields; nil fields answer empty.
type fakeCI struct {
	name     string
	builders func(ctx context.Context) ([]ci.Builder, error)
	running  func(ctx context.Context) ([]ci.Build, error)
	last     func(ctx context.Context, builder string, n int) ([]ci.Build, error)
	build    func(ctx context.Context, id string) (ci.Build, error)
	workers  func(ctx context.Context) ([]ci.Worker, error)
}

func (f *fakeCI) Name() string { return f.name }
func (f *fakeCI) Kind() string { return "fake" }
func (f *fakeCI) Builders(ctx context.Context) ([]ci.Builder, error) {
	if f.builders == nil {
		return nil, nil
	}
	return f.builders(ctx)
}
func (f *fakeCI) RunningBuilds(ctx context.Context) ([]ci.Build, error) {
	if f.running == nil {
		return nil, nil
	}
	return f.running(ctx)
}
func (f *fakeCI) LastBuilds(ctx context.Context, builder string, n int) ([]ci.Build, error) {
	if f.last == nil {
		return nil, nil
	}
	return f.last(ctx, builder, n)
}
func (f *fakeCI) Build(ctx context.Context, id string) (ci.Build, error) {
	if f.build == nil {
		return ci.Build{}, ci.ErrNotFound
	}
	return f.build(ctx, id)
}
func (f *fakeCI) Workers(ctx context.Context) ([]ci.Worker, error) {
	if f.workers == nil {
		return nil, nil
	}
	return f.workers(ctx)
}

// fakeForcer adds the Forcer capability.
type fakeForcer struct {
	*fakeCI
	schedulers func(ctx context.Context) ([]ci.ForceScheduler, error)
	force      func(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error)
	stop       func(ctx context.Context, buildID, reason string) error
}

func (f *fakeForcer) ForceSchedulers(ctx context.Context) ([]ci.ForceScheduler, error) {
	return f.schedulers(ctx)
}
func (f *fakeForcer) Force(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
	return f.force(ctx, req)
}
func (f *fakeForcer) Stop(ctx context.Context, buildID, reason string) error {
	return f.stop(ctx, buildID, reason)
}

// fakeRebuilder is a provider that can re-run builds (ci.Rebuilder) and nothing more.
type fakeRebuilder struct {
	*fakeCI
	rebuild func(ctx context.Context, buildID, owner string) (ci.ForceResult, error)
}

func (f *fakeRebuilder) Rebuild(ctx context.Context, buildID, owner string) (ci.ForceResult, error) {
	return f.rebuild(ctx, buildID, owner)
}

func (f *fakeRebuilder) RebuildLabel() string { return "Re-run failed jobs" }

var _ ci.Rebuilder = (*fakeRebuilder)(nil)

// Users of the tests' authz matrix.
const (
	admin   = int64(123456) // may force and stop everything
	docsman = int64(555)    // may force only docs-*
	nobody  = int64(789012) // safe commands only
	groupID = int64(-1001)
)

// testSpec is Buildbot's example plus a builder scope.
func testSpec() authz.Spec {
	return authz.Spec{Rules: []authz.Rule{
		{Commands: []string{"dangerous"}, Who: []string{"123456"}, Line: 1},
		{Commands: []string{"force"}, Who: []string{"123456", "555"}, Builders: []string{"docs-*"}, Line: 2},
	}}
}

// env is a registry wired like herald wires it, on a real database and a fake CI.
type env struct {
	t       *testing.T
	st      *store.Store
	reg     *commands.Registry
	deps    commands.Deps
	bb      *fakeForcer
	more    []ci.Provider // connections after bb (restart wires them)
	mu      sync.Mutex
	now     time.Time
	forced  []ci.ForceRequest
	stopped []string
	running []ci.Build
}

var schedFields = []ci.ForceField{
	{Name: "branch", Label: "Branch", Type: ci.FieldText, Required: true},
	{Name: "reason", Label: "Reason", Type: ci.FieldText, Default: "forced"},
	{Name: "target", Label: "Target", Type: ci.FieldChoice, Choices: []string{"debug", "release"}, Default: "debug"},
	{Name: "clean", Label: "Clean", Type: ci.FieldBool},
	{Name: "jobs", Label: "Jobs", Type: ci.FieldInt},
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, st: storetest.New(t), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e.bb = &fakeForcer{
		fakeCI: &fakeCI{
			name: "bb",
			builders: func(ctx context.Context) ([]ci.Builder, error) {
				return []ci.Builder{
					{Conn: "bb", Name: "pass", Online: true},
					{Conn: "bb", Name: "slow", Online: true},
					{Conn: "bb", Name: "docs-site", Online: true},
					{Conn: "bb", Name: "old", Online: false},
				}, nil
			},
			running: func(ctx context.Context) ([]ci.Build, error) {
				e.mu.Lock()
				defer e.mu.Unlock()
				return append([]ci.Build(nil), e.running...), nil
			},
			build: func(ctx context.Context, id string) (ci.Build, error) {
				e.mu.Lock()
				defer e.mu.Unlock()
				for _, b := range e.running {
					if b.ID == id {
						return b, nil
					}
				}
				return ci.Build{}, ci.ErrNotFound
			},
		},
		schedulers: func(ctx context.Context) ([]ci.ForceScheduler, error) {
			return []ci.ForceScheduler{{Conn: "bb", Name: "force", Label: "Force", Builders: []string{"pass", "slow", "docs-site"}, Fields: schedFields}}, nil
		},
		force: func(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.forced = append(e.forced, req)
			return ci.ForceResult{Ref: "buildset 77", RequestIDs: []string{"r77"}}, nil
		},
		stop: func(ctx context.Context, buildID, reason string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.stopped = append(e.stopped, buildID+": "+reason)
			return nil
		},
	}
	for _, id := range []int64{groupID, admin, docsman, nobody} {
		typ := "private"
		if id < 0 {
			typ = "supergroup"
		}
		if _, err := e.st.Pool().Exec(context.Background(), `INSERT INTO chats (id, type) VALUES ($1, $2)`, id, typ); err != nil {
			t.Fatal(err)
		}
	}
	e.restart(testSpec())
	return e
}

// restart builds a new registry on the same database, as a restarted herald would.
func (e *env) restart(spec authz.Spec) {
	e.t.Helper()
	reg := commands.NewRegistry(nil)
	e.deps = commands.Deps{
		CI:    append([]ci.Provider{e.bb}, e.more...),
		Store: e.st,
		Clock: func() time.Time {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.now
		},
		Version:   "1.2.3",
		SourceURL: "https://example.org/herald",
		Log:       zerolog.Nop(),
	}
	commands.Register(reg, e.deps)
	m, err := authz.Compile(spec, reg.Known())
	if err != nil {
		e.t.Fatalf("authz: %v", err)
	}
	e.deps.Authz = func() *authz.Matrix { return m }
	e.reg = commands.NewRegistry(commands.NewGate(e.deps))
	commands.Register(e.reg, e.deps)
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func req(chat, user int64, text string) commands.Request {
	r := commands.Request{ChatID: chat, UserID: user, ChatType: "supergroup", Text: text, MessageID: 10, FirstName: "U"}
	if chat > 0 {
		r.ChatType = "private"
	}
	if strings.HasPrefix(text, "/") {
		f := strings.Fields(text[1:])
		r.Command, r.Args = f[0], f[1:]
	}
	return r
}

// send handles a typed message.
func (e *env) send(chat, user int64, text string) commands.Response {
	e.t.Helper()
	res, err := e.reg.Handle(context.Background(), req(chat, user, text))
	if err != nil {
		e.t.Fatalf("%s: %v", text, err)
	}
	return res
}

// press presses the button whose text starts with label in res.
func (e *env) press(chat, user int64, res commands.Response, label string) commands.Response {
	e.t.Helper()
	b := findButton(e.t, res, label)
	r := req(chat, user, "")
	r.MessageID = 20
	r.Button = &commands.Pressed{QueryID: "q", Data: b.Data}
	out, err := e.reg.Handle(context.Background(), r)
	if err != nil {
		e.t.Fatalf("press %q: %v", label, err)
	}
	return out
}

func findButton(t *testing.T, res commands.Response, label string) commands.Button {
	t.Helper()
	for _, rep := range res.Replies {
		for _, row := range rep.Keyboard {
			for _, b := range row {
				if strings.HasPrefix(b.Text, label) {
					return b
				}
			}
		}
	}
	t.Fatalf("no button %q in %s", label, dump(res))
	return commands.Button{}
}

func dump(res commands.Response) string {
	var b strings.Builder
	b.WriteString("notice=" + res.Notice)
	for _, r := range res.Replies {
		b.WriteString("\n---\n" + r.Text)
		for _, row := range r.Keyboard {
			b.WriteString("\n[")
			for _, k := range row {
				b.WriteString(" " + k.Text + " |")
			}
			b.WriteString("]")
		}
	}
	return b.String()
}

// text is every reply's text and the notice.
func text(res commands.Response) string { return dump(res) }

func mustContain(t *testing.T, res commands.Response, parts ...string) {
	t.Helper()
	s := text(res)
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("want %q in:\n%s", p, s)
		}
	}
}

func hasKeyboard(res commands.Response) bool {
	for _, r := range res.Replies {
		if len(r.Keyboard) > 0 {
			return true
		}
	}
	return false
}

func (e *env) audit() []store.AuditEntry {
	e.t.Helper()
	log, err := e.st.AuditLog(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return log
}

func (e *env) forcedCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.forced)
}
