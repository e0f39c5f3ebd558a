package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

func TestForceFlow(t *testing.T) {
	e := newEnv(t)
	res := e.send(groupID, admin, "/force")
	// One scheduler: it is skipped; the builders are offered.
	mustContain(t, res, "Which builder", "pass", "slow", "docs-site")
	res = e.press(groupID, admin, res, "pass")
	mustContain(t, res, "Force <b>pass</b>", "Branch*", "<code>forced</code>", "<code>debug</code>")
	if !res.Replies[0].Edit {
		t.Fatal("the form should replace the builder keyboard")
	}
	form := res

	// Start before the required branch is set: refused, form again.
	res = e.press(groupID, admin, form, "▶ Start")
	mustContain(t, res, "Set <b>Branch*</b> first")
	if e.forcedCount() != 0 {
		t.Fatal("forced without the required branch")
	}

	res = e.press(groupID, admin, res, "Branch*")
	mustContain(t, res, "Send me <b>Branch*</b>")
	res = e.send(groupID, admin, "feature/x")
	mustContain(t, res, "<code>feature/x</code>")

	// The int field checks its answer.
	res = e.press(groupID, admin, res, "Jobs")
	res = e.send(groupID, admin, "many")
	mustContain(t, res, "must be a whole number")
	res = e.send(groupID, admin, "4")
	mustContain(t, res, "<code>4</code>")

	// A choice and a bool.
	res = e.press(groupID, admin, res, "Target")
	mustContain(t, res, "Pick <b>Target</b>")
	res = e.press(groupID, admin, res, "release")
	res = e.press(groupID, admin, res, "Clean: no")
	mustContain(t, res, "Clean: yes")

	// herald restarts half way: the next button still works.
	e.restart(testSpec())
	done := e.press(groupID, admin, res, "▶ Start")
	mustContain(t, done, "Forced <b>pass</b>", "branch=feature/x", "target=release", "clean=true", "jobs=4")
	if e.forcedCount() != 1 {
		t.Fatalf("forced %d times", e.forcedCount())
	}
	got := e.forced[0]
	if got.Builder != "pass" || got.Scheduler != "force" || got.Params["branch"] != "feature/x" || got.Reason != "forced" || got.Owner != "U (telegram 123456)" {
		t.Fatalf("force request: %+v", got)
	}
	// Pressing Start again forces nothing more.
	again := e.press(groupID, admin, res, "▶ Start")
	mustContain(t, again, "expired")
	if e.forcedCount() != 1 {
		t.Fatal("second press forced again")
	}

	fs, err := e.st.ChatFollowups(context.Background(), groupID)
	if err != nil || len(fs) != 1 || fs[0].RequestID != "r77" || fs[0].Builder != "pass" || fs[0].UserID != admin {
		t.Fatalf("followups: %+v %v", fs, err)
	}
	log := e.audit()
	if len(log) != 1 || log[0].Outcome != "allowed" || log[0].Builder != "pass" || log[0].Command != "force" ||
		log[0].Args != "branch=feature/x reason=forced target=release clean=true jobs=4" || log[0].ChatID != groupID ||
		log[0].Detail != "buildset 77" {
		t.Fatalf("audit: %+v", log)
	}
}

// TestForceWithoutRequestIDs: a CI that does not say which build it started gets no
// promise of a follow-up, and no follow-up is stored; the audit still has its reference.
func TestForceWithoutRequestIDs(t *testing.T) {
	e := newEnv(t)
	e.bb.force = func(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
		return ci.ForceResult{Ref: "dispatch of CI on main"}, nil
	}
	done := e.press(admin, admin, forceForm(e), "▶ Start")
	mustContain(t, done, "🚀 Forced <b>pass</b> with <code>branch=main reason=forced target=debug</code>. /status shows it.")
	if strings.Contains(text(done), "I will say") {
		t.Errorf("promised a follow-up: %s", dump(done))
	}
	if fs, err := e.st.ChatFollowups(context.Background(), admin); err != nil || len(fs) != 0 {
		t.Errorf("followups %+v %v, want none", fs, err)
	}
	if log := e.audit(); len(log) != 1 || log[0].Outcome != "allowed" || log[0].Detail != "dispatch of CI on main" {
		t.Errorf("audit: %+v", log)
	}
}

func TestForceTypedBuilderSkipsKeyboards(t *testing.T) {
	e := newEnv(t)
	res := e.send(admin, admin, "/force slow")
	mustContain(t, res, "Force <b>slow</b>")
	res = e.send(admin, admin, "/force nosuch")
	mustContain(t, res, "I cannot force nosuch")
}

func TestForceDenied(t *testing.T) {
	e := newEnv(t)
	res := e.send(groupID, nobody, "/force")
	mustContain(t, res, "You may not use /force.")
	if hasKeyboard(res) {
		t.Fatal("a denied user got a keyboard")
	}
	log := e.audit()
	if len(log) != 1 || log[0].Outcome != "denied" || log[0].UserID != nobody {
		t.Fatalf("audit: %+v", log)
	}
}

func TestForceScopedToBuilders(t *testing.T) {
	e := newEnv(t)
	res := e.send(groupID, docsman, "/force")
	// Only docs-site is offered, so the builder step is skipped.
	mustContain(t, res, "Force <b>docs-site</b>")
	res = e.send(groupID, docsman, "/force pass")
	mustContain(t, res, "You may force only docs-*.")
	if e.forcedCount() != 0 {
		t.Fatal("forced")
	}
}

func TestForceKeyboardPressedBySomeoneElse(t *testing.T) {
	e := newEnv(t)
	builders := e.send(groupID, admin, "/force")

	// A user without the right presses the admin's keyboard: nothing starts, audited.
	res := e.press(groupID, nobody, builders, "pass")
	if res.Notice != "You may not use /force." || len(res.Replies) != 0 {
		t.Fatalf("denied press: %s", dump(res))
	}
	// A user allowed only docs-* presses pass.
	res = e.press(groupID, docsman, builders, "pass")
	if res.Notice != "You may force only docs-*." {
		t.Fatalf("scoped press: %s", dump(res))
	}

	form := e.press(groupID, admin, builders, "pass")
	e.press(groupID, admin, form, "Branch*")
	form = e.send(groupID, admin, "main")
	// Someone else presses the admin's Start: not theirs.
	res = e.press(groupID, docsman, form, "▶ Start")
	mustContain(t, res, "someone else's /force")
	res = e.press(groupID, nobody, form, "▶ Start")
	if res.Notice != "You may not use /force." {
		t.Fatalf("denied start: %s", dump(res))
	}
	if e.forcedCount() != 0 {
		t.Fatal("someone else's press forced a build")
	}
	denied := 0
	for _, a := range e.audit() {
		if a.Outcome == "denied" {
			denied++
		}
	}
	if denied != 3 {
		t.Fatalf("want 3 denied audit rows, got %+v", e.audit())
	}
}

func TestForceRightsReloadedBeforeStart(t *testing.T) {
	e := newEnv(t)
	form := e.send(groupID, docsman, "/force docs-site")
	e.press(groupID, docsman, form, "Branch*")
	form = e.send(groupID, docsman, "main")
	// The admin takes the right away (SIGHUP); the form is still up.
	spec := testSpec()
	spec.Rules = spec.Rules[:1]
	e.restart(spec)
	res := e.press(groupID, docsman, form, "▶ Start")
	mustContain(t, res, "You may not use /force.")
	if e.forcedCount() != 0 {
		t.Fatal("forced after the right was taken away")
	}
}

func TestForceStaleAndCancelled(t *testing.T) {
	e := newEnv(t)
	form := e.send(groupID, admin, "/force pass")

	// Expired.
	e.advance(2 * time.Hour)
	res := e.press(groupID, admin, form, "▶ Start")
	mustContain(t, res, "This keyboard has expired.", "Send /force to start again")
	if !res.Replies[0].Edit || hasKeyboard(res) {
		t.Fatalf("a stale keyboard must be removed: %s", dump(res))
	}

	// Replaced by a newer /force.
	old := e.send(groupID, admin, "/force pass")
	e.send(groupID, admin, "/force slow")
	mustContain(t, e.press(groupID, admin, old, "▶ Start"), "expired")

	// /nay: the keyboard message it knows is cleared, later presses are stale.
	form = e.send(groupID, admin, "/force pass")
	form = e.press(groupID, admin, form, "Clean")
	res = e.send(groupID, admin, "/nay")
	if len(res.Replies) != 2 || res.Replies[0].MessageID != 20 || !res.Replies[0].Edit || res.Replies[0].Keyboard != nil {
		t.Fatalf("/nay: %s %+v", dump(res), res.Replies)
	}
	mustContain(t, res, "OK, I forgot your /force.")
	mustContain(t, e.press(groupID, admin, form, "▶ Start"), "expired")
	mustContain(t, e.send(groupID, admin, "/nay"), "There is nothing to cancel.")

	// Cancel button.
	form = e.send(groupID, admin, "/force pass")
	mustContain(t, e.press(groupID, admin, form, "✖ Cancel"), "nothing was forced")
	if e.forcedCount() != 0 {
		t.Fatal("forced")
	}
}
