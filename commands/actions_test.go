package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/commands"
)

// fakeCaller is the system behind the actions: answer decides what it says to each call.
type fakeCaller struct {
	mu     sync.Mutex
	calls  []commands.ActionCall
	answer func(ctx context.Context, c commands.ActionCall) (commands.ActionAnswer, error)
}

func (f *fakeCaller) CallAction(ctx context.Context, c commands.ActionCall) (commands.ActionAnswer, error) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return f.answer(ctx, c)
}

func (f *fakeCaller) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// actionEnv wires deploy (dangerous) and weather (harmless) like herald does: the actions in
// the registry, the matrix compiled against it (testSpec: dangerous commands for admin only).
func actionEnv(t *testing.T, f *fakeCaller) *env { return actionEnvWith(t, f, testSpec()) }

// actionEnvWith is actionEnv with the rules of spec.
func actionEnvWith(t *testing.T, f *fakeCaller, spec authz.Spec) *env {
	e := newEnv(t)
	list := []commands.Action{
		{Name: "deploy", Description: "deploy a service", Dangerous: true, Timeout: 200 * time.Millisecond},
		{Name: "weather", Description: "tell the weather"},
	}
	known := commands.NewRegistry(nil)
	commands.Register(known, e.deps)
	known.Add(commands.Actions(e.deps, f, list)...)
	m, err := authz.Compile(spec, known.Known())
	if err != nil {
		t.Fatal(err)
	}
	e.deps.Authz = func() *authz.Matrix { return m }
	e.deps.Log = zerolog.Nop()
	e.reg = commands.NewRegistry(commands.NewGate(e.deps))
	e.reg.Add(commands.Help(e.reg))
	commands.Register(e.reg, e.deps)
	e.reg.Add(commands.Actions(e.deps, f, list)...)
	return e
}

func TestActionCalledAndAnswered(t *testing.T) {
	f := &fakeCaller{answer: func(ctx context.Context, c commands.ActionCall) (commands.ActionAnswer, error) {
		return commands.ActionAnswer{Text: "deploying " + strings.Join(c.Args, " ") + " <now>",
			Buttons: [][]commands.ActionButton{{{Text: "Logs", URL: "https://ops.example.com/logs/1"}, {Text: "Roll back", Data: "rollback 1"}}}}, nil
	}}
	e := actionEnv(t, f)
	res := e.send(groupID, admin, "/deploy api v2")
	if len(res.Replies) != 1 || res.Replies[0].Text != "deploying api v2 &lt;now&gt;" {
		t.Fatalf("reply: %s", dump(res))
	}
	if b := findButton(t, res, "Logs"); b.URL != "https://ops.example.com/logs/1" || b.Data != "" {
		t.Fatalf("link button: %+v", b)
	}
	if b := findButton(t, res, "Roll back"); b.Data != "deploy:rollback 1" || b.URL != "" {
		t.Fatalf("data button: %+v", b)
	}
	c := f.calls[0]
	want := commands.ActionCall{Action: "deploy", Args: []string{"api", "v2"}, UserID: admin, ChatID: groupID,
		ChatType: "supergroup", MessageID: 10, At: e.now}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("call = %+v\nwant   %+v", c, want)
	}

	// The button calls the action again with its data, checked with the presser.
	e.press(groupID, admin, res, "Roll back")
	if f.count() != 2 || f.calls[1].Data != "rollback 1" || len(f.calls[1].Args) != 0 {
		t.Fatalf("press: calls %+v", f.calls)
	}
	before := f.count()
	denied := e.press(groupID, nobody, res, "Roll back")
	if f.count() != before || !strings.Contains(denied.Notice, "may not use /deploy") {
		t.Fatalf("a press by a denied user: %s (calls %d)", dump(denied), f.count())
	}

	log := e.audit() // newest first
	if len(log) != 3 || log[0].Outcome != "denied" || log[0].UserID != nobody || log[0].Command != "deploy" ||
		log[1].Outcome != "allowed" || log[1].Args != "deploy:rollback 1" ||
		log[2].Outcome != "allowed" || log[2].Args != "api v2" {
		t.Fatalf("audit: %+v", log)
	}
}

func TestActionDeniedIsRefusedAndAudited(t *testing.T) {
	f := &fakeCaller{answer: func(ctx context.Context, c commands.ActionCall) (commands.ActionAnswer, error) {
		return commands.ActionAnswer{Text: "ok"}, nil
	}}
	e := actionEnv(t, f)
	res := e.send(groupID, nobody, "/deploy api")
	mustContain(t, res, "You may not use /deploy")
	if f.count() != 0 {
		t.Fatalf("a denied user's action was called: %+v", f.calls)
	}
	log := e.audit()
	if len(log) != 1 || log[0].Command != "deploy" || log[0].Outcome != "denied" || log[0].UserID != nobody || log[0].Args != "api" {
		t.Fatalf("audit: %+v", log)
	}
	// A harmless action is everyone's, and not audited.
	mustContain(t, e.send(groupID, nobody, "/weather"), "ok")
	if len(e.audit()) != 1 {
		t.Fatalf("a harmless action was audited: %+v", e.audit())
	}
	// An anonymous admin names nobody: refused before the call.
	r := req(groupID, 1087968824, "/deploy api")
	r.Actor = commands.ActorAnonymousAdmin
	out, err := e.reg.Handle(context.Background(), r)
	if err != nil || f.count() != 1 || len(e.audit()) != 2 || e.audit()[0].Outcome != "denied" {
		t.Fatalf("anonymous: %s, %v; calls %d; audit %+v", dump(out), err, f.count(), e.audit())
	}
}

func TestActionFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(ctx context.Context) (commands.ActionAnswer, error)
		want   string
	}{
		{"status", func(ctx context.Context) (commands.ActionAnswer, error) {
			return commands.ActionAnswer{}, &commands.ActionStatusError{Status: 500}
		}, "deploy: the service answered 500"},
		{"timeout", func(ctx context.Context) (commands.ActionAnswer, error) {
			<-ctx.Done() // the action's own timeout (200ms) ends the call
			return commands.ActionAnswer{}, fmt.Errorf("post: %w", ctx.Err())
		}, "deploy: no answer within 200ms"},
		{"bad body", func(ctx context.Context) (commands.ActionAnswer, error) {
			return commands.ActionAnswer{}, fmt.Errorf("%w: not JSON", commands.ErrActionAnswer)
		}, "deploy: the service's answer could not be read"},
		{"unreachable", func(ctx context.Context) (commands.ActionAnswer, error) {
			return commands.ActionAnswer{}, fmt.Errorf("dial tcp: connection refused")
		}, "deploy: the service could not be reached"},
		{"empty", func(ctx context.Context) (commands.ActionAnswer, error) {
			return commands.ActionAnswer{}, nil
		}, "deploy: done."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCaller{answer: func(ctx context.Context, c commands.ActionCall) (commands.ActionAnswer, error) { return tc.answer(ctx) }}
			e := actionEnv(t, f)
			res := e.send(groupID, admin, "/deploy api")
			if len(res.Replies) != 1 || res.Replies[0].Text != tc.want {
				t.Fatalf("reply: %s\nwant %q", dump(res), tc.want)
			}
			log := e.audit()
			wantOutcome := "failed"
			if tc.name == "empty" {
				wantOutcome = "allowed"
			}
			if len(log) != 1 || log[0].Outcome != wantOutcome {
				t.Fatalf("audit: %+v", log)
			}
		})
	}
}

// Actions are listed by /help with their description, after the built-in commands.
func TestActionsInHelp(t *testing.T) {
	e := actionEnv(t, &fakeCaller{})
	mustContain(t, e.send(groupID, nobody, "/help"), "/deploy — deploy a service\n/weather — tell the weather\n")
	mustContain(t, e.send(groupID, nobody, "/help deploy"), "<b>/deploy</b> — deploy a service", "audited")
}

// A right to dangerous commands limited to some builders ("on docs-*") is about builds; an
// action is about none, so it grants no action: only a rule not limited to builders does.
func TestActionNotGrantedByABuilderLimitedRight(t *testing.T) {
	f := &fakeCaller{answer: func(ctx context.Context, c commands.ActionCall) (commands.ActionAnswer, error) {
		return commands.ActionAnswer{Text: "ok"}, nil
	}}
	spec := testSpec()
	spec.Rules = append(spec.Rules, authz.Rule{Commands: []string{"dangerous"}, Who: []string{"555"}, Builders: []string{"docs-*"}, Line: 3})
	e := actionEnvWith(t, f, spec)
	mustContain(t, e.send(groupID, docsman, "/deploy api"), "You may not use /deploy")
	if f.count() != 0 {
		t.Fatalf("a builder-limited right ran the action: %+v", f.calls)
	}
	if log := e.audit(); len(log) != 1 || log[0].Outcome != "denied" || log[0].UserID != docsman {
		t.Fatalf("audit: %+v", log)
	}
	mustContain(t, e.send(groupID, admin, "/deploy api"), "ok")
	if f.count() != 1 {
		t.Fatalf("admin's action: calls %+v", f.calls)
	}
}
