package buildbot

import (
	"context"
	"errors"
	"fmt"

	"github.com/herald-ci/herald/ci"
)

var (
	_ ci.WorkerController    = (*Provider)(nil)
	_ ci.SchedulerController = (*Provider)(nil)
	_ ci.Rebuilder           = (*Provider)(nil)
)

// apiScheduler is one entry of api/v2/schedulers.
type apiScheduler struct {
	ID      int    `json:"schedulerid"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// ControlWorker pauses, unpauses or gracefully stops a worker with the JSON-RPC control
// actions of api/v2/workers/<id> ("stop" is Buildbot's graceful shutdown; its "kill" is not
// offered). The worker is looked up by name first: Buildbot answers an action on a worker
// that is not connected with success and does nothing (the action goes to the worker's
// connection), so that is refused here with a plain answer instead.
func (p *Provider) ControlWorker(ctx context.Context, name string, action ci.WorkerAction, reason string) error {
	switch action {
	case ci.WorkerPause, ci.WorkerUnpause, ci.WorkerStop:
	default:
		return fmt.Errorf("buildbot: worker %s: action %q: %w", name, action, ci.ErrUnsupported)
	}
	ws, err := p.workers(ctx)
	if err != nil {
		return err
	}
	var w *apiWorker
	for i := range ws {
		if ci.CleanText(ws[i].Name) == name {
			w = &ws[i]
			break
		}
	}
	if w == nil {
		return ci.Userf(fmt.Errorf("buildbot: worker %q: %w", name, ci.ErrNotFound), fmt.Sprintf("no worker %s on %s", name, p.cfg.Name))
	}
	if len(w.ConnectedTo) == 0 {
		return ci.Userf(fmt.Errorf("buildbot: worker %q is not connected", name),
			fmt.Sprintf("worker %s is not connected to %s: Buildbot can %s only a connected worker", name, p.cfg.Name, action))
	}
	if reason == "" {
		reason = "from herald"
	}
	_, err = p.c.rpc(ctx, fmt.Sprintf("workers/%d", w.ID), string(action), map[string]any{"reason": reason})
	var re *rpcError
	if errors.As(err, &re) {
		return ci.Userf(err, fmt.Sprintf("Buildbot refused to %s worker %s: %s", action, name, re.Message))
	}
	if err != nil {
		return fmt.Errorf("buildbot: %s worker %s: %w", action, name, err)
	}
	return nil
}

// SetSchedulerEnabled enables or disables a scheduler with the JSON-RPC "enable" action of
// api/v2/schedulers/<id>, looked up by name.
func (p *Provider) SetSchedulerEnabled(ctx context.Context, name string, enabled bool) error {
	ss, err := getList[apiScheduler](ctx, p.c, "schedulers", "schedulers")
	if err != nil {
		return err
	}
	id := 0
	for _, s := range ss {
		if ci.CleanText(s.Name) == name {
			id = s.ID
			break
		}
	}
	if id == 0 {
		return ci.Userf(fmt.Errorf("buildbot: scheduler %q: %w", name, ci.ErrNotFound), fmt.Sprintf("no scheduler %s on %s", name, p.cfg.Name))
	}
	_, err = p.c.rpc(ctx, fmt.Sprintf("schedulers/%d", id), "enable", map[string]any{"enabled": enabled})
	var re *rpcError
	if errors.As(err, &re) {
		return ci.Userf(err, fmt.Sprintf("Buildbot refused to change scheduler %s: %s", name, re.Message))
	}
	if err != nil {
		return fmt.Errorf("buildbot: enable scheduler %s: %w", name, err)
	}
	return nil
}
