package jenkins

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/herald-ci/herald/ci"
)

var (
	_ ci.ChangeLister = (*Provider)(nil)
	_ ci.FollowTuner  = (*Provider)(nil)
)

// longSilence is how long without a successful poll of the provider's own makes a catch-up
// read catchUpBuilds of each job instead of pollBuilds: after a restart or an outage more
// builds of one job may have run than a poll reads. Quiet jobs are no silence: since stays
// where the last build event was, however many polls found nothing new.
const longSilence = 10 * time.Minute

// FollowOptions makes the Follower poll every poll_interval.
func (p *Provider) FollowOptions() ci.FollowOptions {
	return ci.FollowOptions{Poll: p.cfg.PollInterval}
}

// BuildsChangedSince lists the builds of every followed job that started or finished after
// since (start time plus duration), oldest first, each as it is now, in one request: each
// job's newest pollBuilds, or catchUpBuilds at the first poll and after longSilence without
// a successful one. A failed Pipeline build comes with its failed stage (the first
// maxStepRequests).
func (p *Provider) BuildsChangedSince(ctx context.Context, since time.Time) ([]ci.Build, error) {
	n := pollBuilds
	p.mu.Lock()
	if p.polledAt.IsZero() || p.now().Sub(p.polledAt) > longSilence {
		n = catchUpBuilds
	}
	p.mu.Unlock()
	jobs, err := p.readJobs(ctx, n, "")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.polledAt = p.now()
	p.mu.Unlock()
	var (
		out      []ci.Build
		pipeline []bool
	)
	now := p.now()
	for _, j := range jobs {
		for _, jb := range j.JSON.Builds {
			b, ok := toBuild(p.cfg.Name, j, jb, now)
			if !ok || !changedAfter(b, since) {
				continue
			}
			out = append(out, b)
			pipeline = append(pipeline, isPipeline(jb))
		}
	}
	// Only failures want their stage here: a running build's stage changes by the second.
	for i := range out {
		pipeline[i] = pipeline[i] && out[i].Complete
	}
	p.addStages(ctx, out, pipeline)
	out = append(out, p.runningOutOfWindow(ctx, jobs, since)...)
	sort.SliceStable(out, func(a, b int) bool { return changedAt(out[a]).Before(changedAt(out[b])) })
	return out, nil
}

// changedAfter says whether a build started or finished after since.
func changedAfter(b ci.Build, since time.Time) bool {
	return b.StartedAt.After(since) || (b.Complete && b.FinishedAt.After(since))
}

// changedAt is when a build last changed, for the order of a catch-up.
func changedAt(b ci.Build) time.Time {
	if b.Complete && !b.FinishedAt.IsZero() {
		return b.FinishedAt
	}
	return b.StartedAt
}

// maxRunning bounds the running builds remembered; past it a build that starts is not
// remembered, and its finish is found only while it is among its job's newest builds.
const maxRunning = 1000

// runningOutOfWindow finds the builds that were running when last read and are no longer
// among their job's newest read (more builds of the job started since): each is read alone
// (the first maxStepRequests of them) until it finishes, and returned once it did after
// since. It remembers the running builds of jobs and forgets the ones that ended.
func (p *Provider) runningOutOfWindow(ctx context.Context, jobs []job, since time.Time) []ci.Build {
	read := map[string]bool{}
	p.mu.Lock()
	if p.running == nil {
		p.running = map[string]bool{}
	}
	for _, j := range jobs {
		for _, jb := range j.JSON.Builds {
			if jb.Number <= 0 {
				continue
			}
			id := buildID(j.FullName, jb.Number, jb.QueueID)
			read[id] = true
			switch {
			case jb.Building || jb.Result == "":
				if len(p.running) < maxRunning {
					p.running[id] = true
				}
			default:
				delete(p.running, id)
			}
		}
	}
	var lost []string
	for id := range p.running {
		if !read[id] {
			lost = append(lost, id)
		}
	}
	p.mu.Unlock()
	sort.Strings(lost)
	var out []ci.Build
	for i, id := range lost {
		if i >= maxStepRequests || ctx.Err() != nil {
			break
		}
		b, err := p.build(ctx, id, false)
		switch {
		case errors.Is(err, ci.ErrNotFound): // deleted, or its job no longer followed
			p.forgetRunning(id)
		case err != nil:
			p.log.Debug().Err(err).Str("build", id).Msg("jenkins: a running build out of the poll's window not read")
		case b.Complete:
			p.forgetRunning(id)
			if changedAfter(b, since) {
				out = append(out, b)
			}
		}
	}
	return out
}

func (p *Provider) forgetRunning(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, id)
}
