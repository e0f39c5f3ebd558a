package gitlab

import (
	"context"
	"errors"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// An overview answers /status and /last for every project at once: per project the project
// and its newest hundred pipelines, read whole for the running ones and the newest finished
// one. It is shared by every chat for OverviewTTL.

// DefaultOverviewTTL is how long an overview is reused.
const DefaultOverviewTTL = 10 * time.Second

// OverviewFailureTTL is how long an overview that failed because GitLab did not answer is
// remembered, so that the chats asking meanwhile get the error at once.
const OverviewFailureTTL = 5 * time.Second

var _ ci.Overviewer = (*Provider)(nil)

// Overview implements ci.Overviewer. One fetch runs at a time; callers that waited for it get
// its answer.
func (p *Provider) Overview(ctx context.Context) (ci.Overview, error) {
	return p.ov.Get(ctx, p.fetchOverview)
}

func (p *Provider) fetchOverview(ctx context.Context) (ci.Overview, error) {
	ov := ci.Overview{At: p.now(), Last: map[string]ci.Build{}}
	builders, err := p.Builders(ctx)
	if err != nil {
		return ci.Overview{}, err
	}
	ov.Builders = builders
	whole := 0
	for _, pr := range p.projects {
		pls, _, err := p.gl.Pipelines.ListProjectPipelines(pr, &gl.ListProjectPipelinesOptions{
			ListOptions: gl.ListOptions{PerPage: perPage}, OrderBy: gl.Ptr("id"), Sort: gl.Ptr("desc"),
		}, gl.WithContext(ctx))
		if unreadable(err) {
			continue // offline in Builders
		}
		if err != nil {
			return ci.Overview{}, p.apiError("list pipelines of "+pr, err)
		}
		name := p.builderName(pr)
		for _, pl := range pls { // newest first
			_, haveLast := ov.Last[name]
			running := runningStatuses[pl.Status]
			if pl.Source == childSource || (!running && (haveLast || Waiting(pl.Status))) {
				continue
			}
			var b ci.Build
			if running && whole >= maxStepRequests {
				b, err = p.listBuild(pr, pl)
			} else {
				whole++
				b, err = p.pipelineBuild(ctx, pr, pl.ID)
			}
			if errors.Is(err, ci.ErrNotFound) {
				continue
			}
			if err != nil {
				return ci.Overview{}, err
			}
			if b.Complete {
				if !haveLast {
					ov.Last[name] = b
				}
			} else {
				ov.Running = append(ov.Running, b)
			}
		}
	}
	return ov, nil
}
