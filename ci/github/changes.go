package github

import (
	"context"
	"errors"
	"sort"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

var (
	_ ci.ChangeLister = (*Provider)(nil)
	_ ci.FollowTuner  = (*Provider)(nil)
)

// Lookback is how long before a catch-up's since a run may have been created and still
// change after since. GitHub's list of runs filters by creation time only, and newest first;
// a run's updated_at is not a filter. A job on a GitHub-hosted runner is stopped after 6
// hours, so most runs created earlier have finished; the list is read back to runs created
// Lookback before since, and no further. A run may last far longer, though (queued, jobs one
// after another, waiting for approval: up to 35 days), and a re-run keeps its run's
// created_at: so each poll also reads by id the attempts herald saw start and not finish,
// and the ones its own /force and re-run button started (tracked.go). Those are kept in
// memory only: after a restart the lookback alone covers them, and a run created more than
// Lookback before then, still running, is found by its webhooks alone (Build reads it).
const Lookback = 6*time.Hour + 10*time.Minute

// maxChangePages bounds the pages of runs one catch-up reads per repository: 2,000 runs, far
// more than a repository makes in Lookback. Past it the catch-up goes on with what it read,
// and says so in the log.
const maxChangePages = 20

// FollowOptions makes the Follower poll every poll_interval.
func (p *Provider) FollowOptions() ci.FollowOptions {
	return ci.FollowOptions{Poll: p.cfg.PollInterval}
}

// BuildsChangedSince lists, for every repository, the runs that started or finished after
// since, oldest first, each as it is now (ci.ChangeLister). The first page is the same URL
// every poll, so when nothing changed it costs a 304, which GitHub does not count against
// the rate limit. A failed run comes with its failed step (the first maxStepRequests).
//
// The attempts followed by id (tracked.go) that the lists did not hold are read too.
//
// A run re-run after since is its newest attempt now; its previous attempt may have
// finished after since too (a quick "Re-run failed jobs"), so that one is read as well.
func (p *Provider) BuildsChangedSince(ctx context.Context, since time.Time) ([]ci.Build, error) {
	var out []ci.Build
	steps := 0
	listed := map[string]bool{} // build ids read in the lists
	for _, r := range p.repos {
		runs, err := p.runsCreatedSince(ctx, r, since.Add(-Lookback))
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			listed[BuildID(run.GetID(), run.GetRunAttempt())] = true
			if !changedAfter(run, since) {
				continue
			}
			if a := run.GetRunAttempt(); a > 1 && run.GetRunStartedAt().After(since) {
				p.rememberRun(run.GetID(), r) // so getRun asks r alone
				_, prev, err := p.getRun(ctx, run.GetID(), a-1)
				if err != nil {
					return nil, err
				}
				if changedAfter(prev, since) && finished(prev) {
					if b, ok, err := p.changedBuild(ctx, r, prev, &steps); err != nil {
						return nil, err
					} else if ok {
						out = append(out, b)
					}
				}
			}
			b, ok, err := p.changedBuild(ctx, r, run, &steps)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, b)
			}
		}
	}
	for _, t := range p.trackedRuns() {
		if listed[t.id] {
			continue
		}
		run, err := p.getAttempt(ctx, t)
		if errors.Is(err, ci.ErrNotFound) {
			p.untrack(t.id) // deleted
			continue
		}
		if err != nil {
			return nil, err
		}
		if !changedAfter(run, since) {
			continue
		}
		b, ok, err := p.changedBuild(ctx, t.repo, run, &steps)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, b)
		}
	}
	// GitHub lists newest first and stamps whole seconds: runs that changed in the same
	// second are put in the order they were made (started, then number and attempt), so a
	// fix that finished with its failure is classified after it.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ca, cb := changedAt(a), changedAt(b); !ca.Equal(cb) {
			return ca.Before(cb)
		}
		if !a.StartedAt.Equal(b.StartedAt) {
			return a.StartedAt.Before(b.StartedAt)
		}
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		return a.Attempt < b.Attempt
	})
	return out, nil
}

// changedBuild maps a changed run, with its failed step while *steps < maxStepRequests.
func (p *Provider) changedBuild(ctx context.Context, r repoRef, run *gh.WorkflowRun, steps *int) (ci.Build, bool, error) {
	if awaitingApproval(run) {
		return ci.Build{}, false, nil // neither started nor finished (payload.go)
	}
	b, ok := p.toBuild(ctx, r, run)
	if !ok {
		return ci.Build{}, false, nil
	}
	if needsFailedStep(b) && *steps < maxStepRequests {
		*steps++
		if err := p.addSteps(ctx, r, run, &b); err != nil {
			return ci.Build{}, false, err
		}
	}
	return b, true, nil
}

// changedAfter says whether a run started or was updated after since.
func changedAfter(run *gh.WorkflowRun, since time.Time) bool {
	return run.GetUpdatedAt().After(since) || run.GetRunStartedAt().After(since)
}

// changedAt is when a build last changed, for the order of a catch-up.
func changedAt(b ci.Build) time.Time {
	if b.Complete && !b.FinishedAt.IsZero() {
		return b.FinishedAt
	}
	return b.StartedAt
}

// runsCreatedSince reads a repository's runs newest first, a page of a hundred at a time,
// until a whole page holds only runs created before from (or the list ends); each run once,
// though a run made while the pages are read moves the others down a place. GitHub does not
// promise the order, so one old run on a page does not end the reading.
func (p *Provider) runsCreatedSince(ctx context.Context, r repoRef, from time.Time) ([]*gh.WorkflowRun, error) {
	var out []*gh.WorkflowRun
	seen := map[int64]bool{}
	opts := &gh.ListWorkflowRunsOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
	for page := 1; ; page++ {
		if page > maxChangePages {
			p.log.Warn().Str("repo", r.full()).Int("pages", maxChangePages).
				Msg("github: more runs changed than one catch-up reads; the oldest of them are left to their webhooks")
			return out, nil
		}
		opts.Page = page
		runs, resp, err := p.runsWhere(ctx, r, opts)
		if err != nil {
			return nil, err
		}
		older := len(runs) > 0 // every run of the page is older than from
		for _, run := range runs {
			if run.GetCreatedAt().Before(from) {
				continue
			}
			older = false
			if !seen[run.GetID()] {
				seen[run.GetID()] = true
				out = append(out, run)
			}
		}
		if older || len(runs) < perPage || resp.NextPage == 0 {
			return out, nil
		}
	}
}
