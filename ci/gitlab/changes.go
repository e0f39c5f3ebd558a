package gitlab

import (
	"context"
	"errors"
	"sort"
	"sync"
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
// truncated says there were more. It pages by updated_after rather than by page number: a
// pipeline updated while the pages are read moves to the end of the list, and an offset page
// would then slip one unread pipeline back onto a page already read. Each next request asks
// from the second before the last update read (the API takes updated_after to the second),
// and what it lists again is passed over; only a page whose updates all fall in one second
// goes on to the next offset page. A catch-up cut short leaves its resume point, from which
// the next one reads on (however far its since looks back), so that a burst of more than
// MaxChangedPipelines changes is read through rather than read again at every poll.
func (p *Provider) changedIn(ctx context.Context, project string, since time.Time) ([]changed, bool, error) {
	cursor := since
	if r, ok := p.resume.get(project); ok && r.After(since) {
		cursor = r
	}
	var out []changed
	type version struct {
		id      int64
		updated time.Time
	}
	seen := map[version]bool{}
	read := 0
	page := int64(1)
	var resumeAt time.Time // the second before the last update read
	for range 2 * (MaxChangedPipelines/perPage + 2) {
		opts := &gl.ListProjectPipelinesOptions{
			ListOptions:  gl.ListOptions{PerPage: perPage, Page: page},
			UpdatedAfter: gl.Ptr(cursor.UTC()), OrderBy: gl.Ptr("updated_at"), Sort: gl.Ptr("asc"),
		}
		pls, _, err := p.gl.Pipelines.ListProjectPipelines(project, opts, gl.WithContext(ctx))
		if unreadable(err) {
			// Offline in Builders; the other projects are still followed.
			p.log.Warn().Err(p.apiError("list pipelines of "+project, err)).Str("project", project).Msg("gitlab: the token cannot read a project followed")
			return out, false, nil
		}
		if err != nil {
			return nil, false, p.apiError("list pipelines of "+project, err)
		}
		for _, pl := range pls {
			updated := deref(pl.UpdatedAt)
			v := version{pl.ID, updated}
			if seen[v] || pl.Source == childSource {
				continue // listed again from the second before, or a child
			}
			if read >= MaxChangedPipelines {
				p.log.Warn().Str("project", project).Int("pipelines", MaxChangedPipelines).
					Msg("gitlab: more pipelines changed than one catch-up reads; the next poll reads on")
				p.resume.set(project, resumeAt)
				return out, true, nil
			}
			seen[v] = true
			read++
			resumeAt = updated.Truncate(time.Second).Add(-time.Second)
			r, rs, err := p.pipelineRun(ctx, project, pl.ID)
			if errors.Is(err, ci.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, false, err
			}
			p.pipelines.remember(pl.ID, project)
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
		if len(pls) < perPage {
			p.resume.clear(project)
			return out, false, nil
		}
		next := deref(pls[len(pls)-1].UpdatedAt).Truncate(time.Second).Add(-time.Second)
		if deref(pls[0].UpdatedAt).After(next) || !next.After(cursor) {
			page++ // the whole page is within a second: from next it would be listed again
		} else {
			cursor, page = next, 1
		}
	}
	p.resume.set(project, resumeAt)
	return out, true, nil
}

// resumePoints are where each project's catch-up cut short reads on (see changedIn).
type resumePoints struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (rp *resumePoints) get(project string) (time.Time, bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	t, ok := rp.m[project]
	return t, ok
}

func (rp *resumePoints) set(project string, at time.Time) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.m == nil {
		rp.m = map[string]time.Time{}
	}
	if !at.IsZero() {
		rp.m[project] = at
	}
}

func (rp *resumePoints) clear(project string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	delete(rp.m, project)
}

// changedAt is when a build last changed, for the order of a catch-up.
func changedAt(b ci.Build) time.Time {
	if b.Complete && !b.FinishedAt.IsZero() {
		return b.FinishedAt
	}
	return b.StartedAt
}
