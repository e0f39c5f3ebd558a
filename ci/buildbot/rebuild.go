package buildbot

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/herald-ci/herald/ci"
)

// Rebuild runs a finished build again with the JSON-RPC "rebuild" action of
// api/v2/builds/<id>, as the web UI's Rebuild button does: Buildbot copies the build's
// buildset (its source stamps and properties) into a new one for the same builder. The result
// is the new buildset and its build request, which the new build carries, so the chat hears
// how it ends. Buildbot has no place for who asked (owner): the audit log keeps that.
func (p *Provider) Rebuild(ctx context.Context, buildID, _ string) (ci.ForceResult, error) {
	n, err := strconv.Atoi(buildID)
	if err != nil || n <= 0 {
		return ci.ForceResult{}, fmt.Errorf("buildbot: rebuild build %q: %w", buildID, ci.ErrNotFound)
	}
	raw, err := p.c.rpc(ctx, fmt.Sprintf("builds/%d", n), "rebuild", map[string]any{})
	var re *rpcError
	if errors.As(err, &re) {
		return ci.ForceResult{}, ci.Userf(err, fmt.Sprintf("Buildbot refused to rebuild build %s: %s", buildID, re.Message))
	}
	if err != nil {
		return ci.ForceResult{}, fmt.Errorf("buildbot: rebuild build %d: %w", n, err)
	}
	res, err := parseForceResult(raw)
	if err != nil {
		return ci.ForceResult{}, fmt.Errorf("buildbot: rebuild build %d: %w", n, err)
	}
	return res, nil
}

// RebuildLabel is what Buildbot's web UI calls the action (ci.Rebuilder).
func (p *Provider) RebuildLabel() string { return "Rebuild" }
