package buildbot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

func TestForceQueriesAndStop(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{SlowSeconds: 120})
	p := newProvider(t, m, buildbot.Auth{})
	ctx := context.Background()

	fs, err := p.ForceSchedulers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Name != "force" || !slices.Contains(fs[0].Builders, "docs-site") {
		t.Fatalf("force schedulers = %+v", fs)
	}
	var names []string
	for _, f := range fs[0].Fields {
		names = append(names, f.Name+":"+string(f.Type))
		if f.Name == "branch" && (!f.Required || f.Default != "main") {
			t.Errorf("branch field = %+v", f)
		}
		if f.Name == "target" && !slices.Equal(f.Choices, []string{"a", "b"}) {
			t.Errorf("target field = %+v", f)
		}
	}
	if got, want := strings.Join(names, " "), "reason:text branch:text greeting:text target:choice clean:bool"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}

	for _, tc := range []struct {
		name string
		req  ci.ForceRequest
		msg  string
	}{
		{"unknown builder", ci.ForceRequest{Builder: "nope"}, "no force scheduler offers builder nope"},
		{"empty required", ci.ForceRequest{Builder: "pass", Params: map[string]string{"branch": ""}}, ""},
		{"bad choice", ci.ForceRequest{Builder: "pass", Params: map[string]string{"target": "c"}}, "parameter target must be one of a, b"},
		{"unknown param", ci.ForceRequest{Builder: "pass", Params: map[string]string{"colour": "red"}}, "force has no parameter colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Force(ctx, tc.req)
			if tc.msg == "" {
				// branch has a default, so an empty one falls back to it.
				if err != nil {
					t.Fatalf("Force: %v", err)
				}
				return
			}
			var ue *ci.UserError
			if !errors.As(err, &ue) || ue.Msg != tc.msg {
				t.Fatalf("Force error = %v, want user error %q", err, tc.msg)
			}
		})
	}
	m.WaitBuild("pass", 1)

	res, err := p.Force(ctx, ci.ForceRequest{
		Builder: "toggle", Owner: "alice (telegram 42)", Reason: "try it",
		Params: map[string]string{"branch": "feature/x", "greeting": "hello", "target": "b", "clean": "true"},
	})
	if err != nil {
		t.Fatalf("Force: %v", err)
	}
	if res.Ref == "" || len(res.RequestIDs) != 1 {
		t.Fatalf("force result = %+v", res)
	}
	bb := m.WaitBuild("toggle", 1)
	for prop, want := range map[string]string{"branch": "feature/x", "greeting": "hello", "target": "b", "clean": "true", "reason": "try it"} {
		if got := bb.Property(prop); got != want {
			t.Errorf("property %s = %q, want %q", prop, got, want)
		}
	}
	if !strings.HasPrefix(bb.Property("owner"), "alice (telegram 42)") {
		t.Errorf("owner = %q", bb.Property("owner"))
	}
	last, err := p.LastBuilds(ctx, "toggle", 5)
	if err != nil || len(last) != 1 {
		t.Fatalf("LastBuilds = %+v, %v", last, err)
	}
	if b := last[0]; b.Branch != "feature/x" || b.Reason != "try it" || b.Result != ci.ResultSuccess || b.RequestID != res.RequestIDs[0] || !strings.HasPrefix(b.Owner, "alice") {
		t.Errorf("last build = %+v", b)
	}

	// Stop the slow build while it runs.
	if _, err := p.Force(ctx, ci.ForceRequest{Builder: "slow", Params: map[string]string{"branch": "main"}}); err != nil {
		t.Fatal(err)
	}
	var running ci.Build
	deadline := time.Now().Add(2 * time.Minute)
	for running.CurrentStep != "sleep" {
		if time.Now().After(deadline) {
			t.Fatalf("slow build never ran its sleep step: %+v", running)
		}
		rb, err := p.RunningBuilds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rb) == 1 {
			running = rb[0]
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := p.Stop(ctx, running.ID, "no longer needed"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	m.WaitBuild("slow", 1)
	b, err := p.Build(ctx, running.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Result != ci.ResultCancelled || !b.Complete {
		t.Errorf("stopped build result %q complete %v, want cancelled", b.Result, b.Complete)
	}

	builders, err := p.Builders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var bnames []string
	for _, b := range builders {
		bnames = append(bnames, b.Name)
		if !b.Online {
			t.Errorf("builder %s offline", b.Name)
		}
	}
	if got := strings.Join(bnames, ","); got != "docs-site,fail,pass,slow,toggle" {
		t.Errorf("builders = %s", got)
	}
	ws, err := p.Workers(ctx)
	if err != nil || len(ws) != 1 || ws[0].Name != "w1" || !ws[0].Connected || len(ws[0].Builders) != 5 {
		t.Errorf("workers = %+v, %v", ws, err)
	}
	if _, err := p.Build(ctx, "999"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Build(999) = %v, want ErrNotFound", err)
	}
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{Username: "herald", Password: "s3cret-pw"})
	ctx := context.Background()

	anon := newProvider(t, m, buildbot.Auth{})
	if _, err := anon.Builders(ctx); !errors.Is(err, buildbot.ErrAuth) {
		t.Errorf("anonymous Builders = %v, want ErrAuth", err)
	}

	p := newProvider(t, m, buildbot.Auth{Kind: "basic", Username: "herald", Password: "s3cret-pw"})
	if bs, err := p.Builders(ctx); err != nil || len(bs) != 5 {
		t.Fatalf("Builders = %d, %v", len(bs), err)
	}
	res, err := p.Force(ctx, ci.ForceRequest{Builder: "pass", Params: map[string]string{"branch": "main"}})
	if err != nil || len(res.RequestIDs) != 1 {
		t.Fatalf("Force = %+v, %v", res, err)
	}
	rec := newRecorder()
	watch(t, p, time.Now().Add(-time.Minute), rec)
	rec.waitFor(t, "pass #1 finished", func(evs []ci.Event) bool { return hasEvent(evs, "pass", 1, ci.KindFinished) })

	bad := newProvider(t, m, buildbot.Auth{Kind: "basic", Username: "herald", Password: "wrong-pw-123"})
	_, err = bad.Builders(ctx)
	var ue *ci.UserError
	if !errors.As(err, &ue) || !errors.Is(err, buildbot.ErrAuth) {
		t.Fatalf("wrong password: %v, want a user error wrapping ErrAuth", err)
	}
	if !strings.Contains(ue.Msg, "refused") || strings.Contains(err.Error(), "wrong-pw-123") || strings.Contains(ue.Msg, "wrong-pw-123") ||
		strings.Contains(errors.Unwrap(err).Error(), "wrong-pw-123") {
		t.Errorf("wrong password error %q / %q", ue.Msg, errors.Unwrap(err))
	}
}
