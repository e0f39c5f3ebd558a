package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci"
)

// readmeSpec is the scoped example of the README's "Who may do what": release engineers
// (123456) force and stop anything but release-*, the docs team (789012, 345678) forces
// docs-* only.
func readmeSpec() authz.Spec {
	return authz.Spec{
		Groups: []authz.Group{
			{Name: "release", Members: []string{"123456"}, Line: 1},
			{Name: "docs", Members: []string{"789012", "345678"}, Line: 2},
		},
		Rules: []authz.Rule{
			{Commands: []string{"dangerous"}, Who: []string{"@release"}, Line: 3},
			{Commands: []string{"force"}, Who: []string{"@docs", "@release"}, Builders: []string{"docs-*"}, Line: 4},
			{Commands: []string{"force"}, Who: []string{"nobody"}, Builders: []string{"release-*"}, Line: 5},
		},
		NotifyAdminsOnly: true,
	}
}

// TestForceGlobsAcrossSlashes: with builder names that hold slashes, /force offers and
// refuses what the README's example says (issue 8, item 10).
func TestForceGlobsAcrossSlashes(t *testing.T) {
	e := newEnv(t)
	e.restart(readmeSpec())
	e.bb.schedulers = func(ctx context.Context) ([]ci.ForceScheduler, error) {
		return []ci.ForceScheduler{{Conn: "bb", Name: "force", Fields: schedFields,
			Builders: []string{"release-1.0/linux", "docs-x/arm", "main/linux"}}}, nil
	}
	release, docs := admin, nobody
	res := e.send(groupID, release, "/force")
	mustContain(t, res, "docs-x/arm", "main/linux")
	if strings.Contains(text(res), "release-1.0/linux") {
		t.Fatalf("release-* is nobody's to force, but it is offered:\n%s", dump(res))
	}
	mustContain(t, e.send(groupID, release, "/force release-1.0/linux"), "You may not use /force on release-1.0/linux.")
	// The docs team has one builder to force: the keyboard is skipped.
	mustContain(t, e.send(groupID, docs, "/force"), "Force <b>docs-x/arm</b>")
	mustContain(t, e.send(groupID, docs, "/force main/linux"), "You may force only docs-*.")
	if e.forcedCount() != 0 {
		t.Fatal("forced")
	}
}
