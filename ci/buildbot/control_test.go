package buildbot_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// until polls cond until it holds or a minute has passed: the master applies worker actions
// asynchronously (through its message queue), so the state is read back, not assumed.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestControlWorkersAndSchedulers(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{Workers: 2})
	p := newProvider(t, m, buildbot.Auth{})
	ctx := context.Background()

	if err := p.ControlWorker(ctx, "w1", ci.WorkerPause, "maintenance"); err != nil {
		t.Fatalf("pause: %v", err)
	}
	until(t, "w1 paused", func() bool { return m.Worker("w1").Paused })
	if m.Worker("w2").Paused {
		t.Error("w2 paused too")
	}
	if err := p.ControlWorker(ctx, "w1", ci.WorkerUnpause, ""); err != nil {
		t.Fatalf("unpause: %v", err)
	}
	until(t, "w1 unpaused", func() bool { return !m.Worker("w1").Paused })

	if err := p.SetSchedulerEnabled(ctx, buildbottest.Scheduler, false); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if m.SchedulerEnabled(buildbottest.Scheduler) {
		t.Error("scheduler still enabled after disable")
	}
	if err := p.SetSchedulerEnabled(ctx, buildbottest.Scheduler, true); err != nil {
		t.Fatalf("enable: %v", err)
	}
	if !m.SchedulerEnabled(buildbottest.Scheduler) {
		t.Error("scheduler still disabled after enable")
	}

	// A graceful stop of an idle worker disconnects it; after that Buildbot would accept
	// an action and do nothing, which herald refuses instead.
	if err := p.ControlWorker(ctx, "w2", ci.WorkerStop, "retiring"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	until(t, "w2 disconnected", func() bool { return !m.Worker("w2").Connected })

	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"unknown worker", func() error { return p.ControlWorker(ctx, "w9", ci.WorkerPause, "") }, "no worker w9 on main"},
		{"disconnected worker", func() error { return p.ControlWorker(ctx, "w2", ci.WorkerPause, "") },
			"worker w2 is not connected to main: Buildbot can pause only a connected worker"},
		{"unknown scheduler", func() error { return p.SetSchedulerEnabled(ctx, "nightly", false) }, "no scheduler nightly on main"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ue *ci.UserError
			if err := tc.call(); !errors.As(err, &ue) || ue.Msg != tc.msg {
				t.Fatalf("error = %v, want user error %q", err, tc.msg)
			}
		})
	}
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	p := newProvider(t, m, buildbot.Auth{})
	ctx := context.Background()
	if got := p.RebuildLabel(); got != "Rebuild" {
		t.Errorf("RebuildLabel = %q", got)
	}

	m.SetOutcome(buildbottest.BuilderToggle, buildbottest.Failure)
	m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "feature/y", "greeting": "again"})
	first := m.WaitBuild(buildbottest.BuilderToggle, 1)
	res, err := p.Rebuild(ctx, strconv.Itoa(first.ID), "alice (telegram 42)")
	if err != nil {
		t.Fatalf("Rebuild: %v", err)
	}
	if res.Ref == "" || len(res.RequestIDs) != 1 {
		t.Fatalf("rebuild result = %+v", res)
	}
	second := m.WaitBuild(buildbottest.BuilderToggle, 2)
	if strconv.Itoa(second.RequestID) != res.RequestIDs[0] {
		t.Errorf("build #2 request %d, rebuild said %v", second.RequestID, res.RequestIDs)
	}
	// The rebuild runs what the first build ran: same branch and properties.
	for _, prop := range []string{"branch", "greeting"} {
		if a, b := first.Property(prop), second.Property(prop); a != b || a == "" {
			t.Errorf("property %s: first %q, rebuild %q", prop, a, b)
		}
	}
	if _, err := p.Rebuild(ctx, "999999", ""); err == nil {
		t.Error("Rebuild of an unknown build succeeded")
	} else {
		t.Logf("rebuild of an unknown build: %v", err)
	}
}
