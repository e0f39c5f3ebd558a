package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// rerunCI is a second connection, "gh", that can re-run builds: build 7/1 of CI failed.
type rerunCI struct {
	*fakeRebuilder
	mu     sync.Mutex
	calls  []string // buildID + " by " + owner, per Rebuild call
	result ci.ForceResult
	err    error
}

func newRerunEnv(t *testing.T) (*env, *rerunCI) {
	t.Helper()
	e := newEnv(t)
	gh := &rerunCI{result: ci.ForceResult{Ref: "run 4711 attempt 2", RequestIDs: []string{"4711/2"}}}
	gh.fakeRebuilder = &fakeRebuilder{
		fakeCI: &fakeCI{
			name: "gh",
			build: func(ctx context.Context, id string) (ci.Build, error) {
				if id != "7/1" {
					return ci.Build{}, ci.ErrNotFound
				}
				return ci.Build{Conn: "gh", ID: "7/1", Number: 3, Builder: "CI", Complete: true, Result: ci.ResultFailure}, nil
			},
		},
		rebuild: func(ctx context.Context, buildID, owner string) (ci.ForceResult, error) {
			gh.mu.Lock()
			defer gh.mu.Unlock()
			gh.calls = append(gh.calls, buildID+" by "+owner)
			return gh.result, gh.err
		},
	}
	e.more = []ci.Provider{gh}
	e.restart(testSpec())
	return e, gh
}

func (g *rerunCI) rebuilds() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.calls...)
}

// pressData presses a button whose payload is data (one the notifier put under a
// message), returning the handler's error rather than failing.
func (e *env) pressData(chat, user int64, data string) (commands.Response, error) {
	e.t.Helper()
	r := req(chat, user, "")
	r.MessageID = 30
	r.Button = &commands.Pressed{QueryID: "q", Data: data}
	return e.reg.Handle(context.Background(), r)
}

func (e *env) mustPressData(chat, user int64, data string) commands.Response {
	e.t.Helper()
	res, err := e.pressData(chat, user, data)
	if err != nil {
		e.t.Fatalf("press %s: %v", data, err)
	}
	return res
}

// TestRerunPress: one press of the button under a failure re-runs it, audited with the CI's
// reference, and the chat follows the new attempt; a second press, before or after a
// restart, re-runs nothing more.
func TestRerunPress(t *testing.T) {
	e, gh := newRerunEnv(t)
	data := commands.RerunData("gh", "7/1")
	res := e.mustPressData(groupID, admin, data)
	mustContain(t, res, "🔁 Re-run failed jobs: <b>gh/CI</b> #3. I will say here how it ends.")
	if len(res.Replies) != 1 || res.Replies[0].Edit || hasKeyboard(res) {
		t.Errorf("want one new message (the failure keeps its text): %s", dump(res))
	}
	if got := gh.rebuilds(); len(got) != 1 || got[0] != "7/1 by U (telegram 123456)" {
		t.Fatalf("rebuilds = %q, want one of 7/1 by the presser", got)
	}
	fs, err := e.st.ChatFollowups(context.Background(), groupID)
	if err != nil || len(fs) != 1 || fs[0].Conn != "gh" || fs[0].RequestID != "4711/2" || fs[0].Builder != "CI" || fs[0].UserID != admin {
		t.Fatalf("followups: %+v %v", fs, err)
	}
	log := e.audit()
	if len(log) != 1 || log[0].Command != "force" || log[0].Outcome != "allowed" || log[0].Conn != "gh" ||
		log[0].Builder != "CI" || log[0].Args != "rerun build=7/1 #3" || log[0].Detail != "run 4711 attempt 2" {
		t.Fatalf("audit: %+v", log)
	}

	again := e.mustPressData(groupID, admin, data)
	mustContain(t, again, "Already re-run from this chat.")
	e.restart(testSpec())
	again = e.mustPressData(groupID, admin, data)
	mustContain(t, again, "Already re-run from this chat.")
	if got := gh.rebuilds(); len(got) != 1 {
		t.Fatalf("rebuilds after pressing again = %q, want still one", got)
	}
	if log := e.audit(); len(log) != 3 || log[0].Outcome != "failed" || log[0].Detail != "already re-run from this chat" {
		t.Fatalf("audit of the presses again: %+v", log)
	}

	// The same failure's button in another chat is that chat's own.
	other := e.mustPressData(admin, admin, data)
	mustContain(t, other, "🔁 Re-run failed jobs: ")
	if got := gh.rebuilds(); len(got) != 2 {
		t.Fatalf("rebuilds = %q, want a second from another chat", got)
	}
}

// TestRerunRefused: the press needs the force right on the build's builder. A refusal says
// why, runs nothing, is audited, and leaves the button for someone who may.
func TestRerunRefused(t *testing.T) {
	e, gh := newRerunEnv(t)
	data := commands.RerunData("gh", "7/1")

	res := e.mustPressData(groupID, nobody, data) // no force right at all: the gate
	if res.Notice == "" || len(res.Replies) != 0 {
		t.Fatalf("nobody's press: %s, want a notice only", dump(res))
	}
	res = e.mustPressData(groupID, docsman, data) // may force docs-* only
	if !strings.Contains(res.Notice, "docs-*") || len(res.Replies) != 0 {
		t.Fatalf("docsman's press: %s, want the reason as a notice", dump(res))
	}
	anon := req(groupID, 1087968824, "")
	anon.Actor = commands.ActorAnonymousAdmin
	anon.Button = &commands.Pressed{QueryID: "q", Data: data}
	if res, err := e.reg.Handle(context.Background(), anon); err != nil || res.Notice == "" {
		t.Fatalf("an anonymous admin's press: %s, %v; want refused", dump(res), err)
	}
	if got := gh.rebuilds(); len(got) != 0 {
		t.Fatalf("refused presses re-ran %q", got)
	}
	log := e.audit()
	if len(log) != 3 {
		t.Fatalf("audit: %+v, want the 3 refusals", log)
	}
	for _, l := range log {
		if l.Outcome != "denied" || l.Command != "force" {
			t.Errorf("audit row %+v, want a denied force", l)
		}
	}
	if log[1].Builder != "CI" || log[1].UserID != docsman {
		t.Errorf("docsman's refusal audited as %+v, want builder CI", log[1])
	}

	res = e.mustPressData(groupID, admin, data)
	mustContain(t, res, "🔁 Re-run failed jobs: ")
	if got := gh.rebuilds(); len(got) != 1 {
		t.Fatalf("rebuilds = %q, want the admin's one", got)
	}
}

// TestRerunCIErrors: a CI that refuses says why and leaves the button working; a CI that
// does not answer may have re-run, so the button stays used; a CI that names no new build
// gets no promise of a follow-up.
func TestRerunCIErrors(t *testing.T) {
	e, gh := newRerunEnv(t)
	data := commands.RerunData("gh", "7/1")

	gh.err = &ci.UserError{Msg: "This run cannot be re-run: it is older than 30 days."}
	_, err := e.pressData(groupID, admin, data)
	if msg, ok := commands.AsUser(err); !ok || msg != "This run cannot be re-run: it is older than 30 days." {
		t.Fatalf("refused by the CI: %v, want its message for the chat", err)
	}
	if log := e.audit(); len(log) != 1 || log[0].Outcome != "failed" {
		t.Fatalf("audit: %+v", log)
	}

	gh.err = errors.New("boom")
	_, err = e.pressData(groupID, admin, data)
	if _, shown := commands.AsUser(err); err == nil || shown {
		t.Fatalf("an internal failure: %v, want the error for the transport to log", err)
	}

	gh.err, gh.result = nil, ci.ForceResult{}
	res := e.mustPressData(groupID, admin, data)
	mustContain(t, res, "🔁 Re-run failed jobs: <b>gh/CI</b> #3. /status shows it.")
	if strings.Contains(text(res), "I will say") {
		t.Errorf("promised a follow-up the CI gave no handle for: %s", dump(res))
	}
	if fs, err := e.st.ChatFollowups(context.Background(), groupID); err != nil || len(fs) != 0 {
		t.Errorf("followups %+v %v, want none", fs, err)
	}
	if got := gh.rebuilds(); len(got) != 3 {
		t.Fatalf("rebuilds = %q, want 3 (each failure left the button working)", got)
	}

	if res := e.mustPressData(groupID, admin, commands.RerunData("gh", "8/1")); res.Notice != "The CI no longer knows that build." {
		t.Errorf("unknown build: %s", dump(res))
	}
	if res := e.mustPressData(groupID, admin, commands.RerunData("bb", "7/1")); !strings.Contains(res.Notice, "can no longer re-run") {
		t.Errorf("a connection that cannot re-run: %s", dump(res))
	}
}

// TestSlowCIRerun: a Rebuild the CI does not answer within CITimeout is said, audited as
// maybe started, and the button stays used: pressing again re-runs nothing more.
func TestSlowCIRerun(t *testing.T) {
	e, gh := newRerunEnv(t)
	e.rewire(func(d *commands.Deps) { d.CITimeout = slow })
	gh.rebuild = func(ctx context.Context, buildID, owner string) (ci.ForceResult, error) {
		gh.mu.Lock()
		gh.calls = append(gh.calls, buildID)
		gh.mu.Unlock()
		return ci.ForceResult{}, hang(ctx)
	}
	data := commands.RerunData("gh", "7/1")
	r := req(groupID, admin, "")
	r.Button = &commands.Pressed{QueryID: "q", Data: data}
	res, err := e.handle(outer(t), r)
	if err != nil {
		t.Fatalf("want an answer, got error %v", err)
	}
	mustContain(t, res, "gh: the CI did not answer in 50ms.", "may have started")
	if len(res.Replies) != 1 || res.Replies[0].Edit {
		t.Fatalf("want a new message, the failure keeping its text: %s", dump(res))
	}
	log := e.audit()
	if len(log) != 1 || log[0].Outcome != "failed" || log[0].Detail != "the CI did not answer in 50ms; the re-run may have started" {
		t.Fatalf("audit: %+v", log)
	}
	again := e.mustPressData(groupID, admin, data)
	mustContain(t, again, "Already re-run from this chat.")
	if got := gh.rebuilds(); len(got) != 1 {
		t.Fatalf("rebuilds = %q, want one", got)
	}
}
