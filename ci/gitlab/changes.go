package gitlab

import (
	"context"
	"errors"
	"sort"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

var (
	_ ci.ChangeLister = (*Provider)(nil)
	_ ci.FollowTuner  = (*Provider)(nil)
)

// MaxChangedPipelines bounds the pipelines one catch-up reads per project (each costs two
// requests). Past it the catch-up returns the oldest changes and stops where it stopped in
// every project; the next poll goes on from there.
const MaxChangedPipelines = 200

// FollowOptions makes the Follower poll every poll_interval, each catch-up looking back at
// least two intervals (ci.DefaultCatchUpSlack at the least): a pipeline updated just before
// the last poll's cursor is still read by the next one however long the interval.
func (p *Provider) FollowOptions() ci.FollowOptions {
	return ci.FollowOptions{Poll: p.cfg.PollInterval, CatchUpSlack: max(ci.DefaultCatchUpSlack, 2*p.cfg.PollInterval)}
}

// changed is a pipeline that changed, with when GitLab last updated it.
type changed struct {
	b       ci.Build
	updated time.Time
}

// BuildsChangedSince lists, for every project, the pipelines GitLab updated after since
// (updated_after, oldest update first, a hundred a page), each read whole as it is now
// (ci.ChangeLister). A pipeline retried after since is its new run, and its run before as
// the jobs tell it ended (see runs.earlier) when that ended after since: a failure retried
// to success while herald was stopped is a failure, then a recovery.
func (p *Provider) BuildsChangedSince(ctx context.Context, since time.Time) ([]ci.Build, error) {
	var all []changed
	var cutoff time.Time // when a project was cut short: the last update read there
	for _, pr := range p.projects {
		cs, truncated, err := p.changedIn(ctx, pr, since)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
		if truncated && len(cs) > 0 {
			last := cs[len(cs)-1].updated
			if cutoff.IsZero() || last.Before(cutoff) {
				cutoff = last
			}
		}
	}
	var out []ci.Build
	for _, c := range all {
		if cutoff.IsZero() || !c.updated.After(cutoff) {
			out = append(out, c.b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return changedAt(out[i]).Before(changedAt(out[j])) })
	return out, nil
}

// changedIn reads one project's pipelines updated after since, at most MaxChangedPipelines;
// truncated says there were more.
func (p *Provider) changedIn(ctx context.Context, project string, since time.Time) ([]changed, bool, error) {
	var out []changed
	seen := map[int64]bool{}
	opts := &gl.ListProjectPipelinesOptions{
		ListOptions:  gl.ListOptions{PerPage: perPage},
		UpdatedAfter: gl.Ptr(since.UTC()), OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc"),
	}
	for range MaxChangedPipelines/perPage + 2 {
		pls, resp, err := p.gl.Pipelines.ListProjectPipelines(project, opts, gl.WithContext(ctx))
		if unreadable(err) {
			// Offline in Builders; the other projects are still followed.
			p.log.Warn().Err(p.apiError("list pipelines of "+project, err)).Str("project", project).Msg("gitlab: the token cannot read a project followed")
			return out, false, nil
		}
		if err != nil {
			return nil, false, p.apiError("list pipelines of "+project, err)
		}
		for _, pl := range pls {
			if seen[pl.ID] || pl.Source == childSource {
				continue // updated while the pages were read (it moved to a later page), or a child
			}
			if len(out) >= MaxChangedPipelines {
				p.log.Warn().Str("project", project).Int("pipelines", MaxChangedPipelines).
					Msg("gitlab: more pipelines changed than one catch-up reads; the next poll reads on")
				return out, true, nil
			}
			seen[pl.ID] = true
			r, rs, err := p.pipelineRun(ctx, project, pl.ID)
			if errors.Is(err, ci.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, false, err
			}
			p.pipelines.remember(pl.ID, project)
			updated := deref(pl.UpdatedAt)
			if rs.attempt > 1 && r.attempt == rs.attempt && r.startedAt.After(since) {
				// Retried after since: the run before may have ended after since too, and
				// no poll may have seen it (a quick retry, or herald stopped meanwhile).
				// (Not when runs without a new job were seen: the jobs number them not.)
				if prev := rs.earlier(r, rs.attempt-1); prev.finishedAt.After(since) {
					if b, err := p.parser.build(prev); err == nil {
						out = append(out, changed{b: b, updated: updated})
					}
				}
			}
			b, err := p.parser.build(r)
			if err != nil {
				p.log.Warn().Err(err).Str("project", project).Int64("pipeline_id", pl.ID).Msg("gitlab: pipeline skipped")
				continue
			}
			out = append(out, changed{b: b, updated: updated})
		}
		if resp.NextPage == 0 || len(pls) == 0 {
			return out, false, nil
		}
		opts.Page = resp.NextPage
	}
	return out, true, nil
}

// changedAt is when a build last changed, for the order of a catch-up.
func changedAt(b ci.Build) time.Time {
	if b.Complete && !b.FinishedAt.IsZero() {
		return b.FinishedAt
	}
	return b.StartedAt
}
