package commands_test

import (
	"context"
	"errors"
	"strings"
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
		return []ci.Worker{{Conn: "bb", Name: "w1", Connected: true}, {Conn: "bb", Name: "w2"}}, nil
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
		{name: "list workers", cmd: "/list workers all", want: []string{"• w1", "• w2 (disconnected)"}},
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
