package buildbottest_test

import (
	"testing"

	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

func TestMasterRunsBuilds(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	m.SetOutcome(buildbottest.BuilderToggle, buildbottest.Warnings)
	m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "feature", "greeting": "hi", "target": "b", "clean": true})
	b := m.WaitBuild(buildbottest.BuilderToggle, 1)
	if b.Results == nil || *b.Results != 1 {
		t.Errorf("results = %v, want 1 (warnings); state %q", b.Results, b.StateString)
	}
	for name, want := range map[string]string{"branch": "feature", "greeting": "hi", "target": "b", "clean": "true"} {
		if got := b.Property(name); got != want {
			t.Errorf("property %s = %q, want %q", name, got, want)
		}
	}
	m.StopMaster()
	m.StartMaster()
	m.StopWorker("w1")
	m.StartWorker("w1")
	if n := len(m.Builds()); n != 1 {
		t.Errorf("builds after restart = %d, want 1", n)
	}
}

func TestHoldAndStop(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	m.Hold(buildbottest.BuilderToggle)
	m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
	b := m.WaitStarted(buildbottest.BuilderToggle, 1)
	m.Stop(b.ID, "test")
	b = m.WaitBuild(buildbottest.BuilderToggle, 1)
	if b.Results == nil || *b.Results != 6 {
		t.Errorf("held build stopped: results %v, want 6 (cancelled); state %q", b.Results, b.StateString)
	}
	m.SetOutcome(buildbottest.BuilderToggle, buildbottest.Failure)
	m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
	if b := m.WaitBuild(buildbottest.BuilderToggle, 2); b.Results == nil || *b.Results != 2 {
		t.Errorf("after the hold: results %v, want 2 (failure)", b.Results)
	}
}
