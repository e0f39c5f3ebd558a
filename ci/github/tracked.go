package github

import (
	"context"
	"fmt"
	"sort"

	gh "github.com/google/go-github/v89/github"
)

// The attempts herald follows by id: those seen started and not finished, and those its
// own /force and re-run button started. The list of runs finds only runs created within
// Lookback; these are read by id on every poll until they finish (each a conditional
// request, free while nothing changed). See Lookback for what a restart forgets.

// MaxTracked bounds the attempts followed by id; past it the one tracked longest is dropped
// (its webhooks still bring it).
const MaxTracked = 1000

// trackedRun is an attempt followed by id.
type trackedRun struct {
	id      string // herald's build id
	repo    repoRef
	run     int64
	attempt int
	seq     uint64 // when it was tracked, for dropping the oldest
}

// track follows an attempt by id until it is seen finished.
func (p *Provider) track(r repoRef, runID int64, attempt int) {
	id := BuildID(runID, attempt)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.tracked[id]; ok {
		return
	}
	if len(p.tracked) >= MaxTracked {
		oldest := ""
		var min uint64
		for k, t := range p.tracked {
			if oldest == "" || t.seq < min {
				oldest, min = k, t.seq
			}
		}
		delete(p.tracked, oldest)
	}
	p.trackSeq++
	p.tracked[id] = trackedRun{id: id, repo: r, run: runID, attempt: max(attempt, 1), seq: p.trackSeq}
}

// untrack stops following an attempt.
func (p *Provider) untrack(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.tracked, id)
}

// trackedRuns are the attempts followed, oldest first.
func (p *Provider) trackedRuns() []trackedRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]trackedRun, 0, len(p.tracked))
	for _, t := range p.tracked {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// getAttempt reads a tracked attempt as it is now.
func (p *Provider) getAttempt(ctx context.Context, t trackedRun) (*gh.WorkflowRun, error) {
	run, _, err := p.gh.Actions.GetWorkflowRunAttempt(ctx, t.repo.Owner, t.repo.Name, t.run, t.attempt, nil)
	if err != nil {
		return nil, p.apiError(fmt.Sprintf("get run %d attempt %d of %s", t.run, t.attempt, t.repo.full()), err)
	}
	return run, nil
}
