package jenkins

import (
	"context"
	"time"

	"github.com/herald-ci/herald/ci"
)

// An overview answers /status and /last for every job at once from the one tree request a
// poll makes: the jobs, their running builds (with the stage of the first maxStepRequests)
// and each job's newest completed build among its newest pollBuilds. It is shared by every
// chat for OverviewTTL.

// DefaultOverviewTTL is how long an overview is reused.
const DefaultOverviewTTL = 5 * time.Second

// OverviewFailureTTL is how long an overview that failed because Jenkins did not answer is
// remembered, so the chats asking meanwhile get the error at once.
const OverviewFailureTTL = 5 * time.Second

var _ ci.Overviewer = (*Provider)(nil)

// Overview implements ci.Overviewer. One fetch runs at a time; callers that waited for it
// get its answer.
func (p *Provider) Overview(ctx context.Context) (ci.Overview, error) {
	return p.ov.Get(ctx, p.fetchOverview)
}

func (p *Provider) fetchOverview(ctx context.Context) (ci.Overview, error) {
	ov := ci.Overview{At: p.now(), Last: map[string]ci.Build{}}
	jobs, err := p.readJobs(ctx, pollBuilds, "")
	if err != nil {
		return ci.Overview{}, err
	}
	var pipeline []bool
	for _, j := range jobs {
		ov.Builders = append(ov.Builders, p.builder(j))
		for _, jb := range j.JSON.Builds { // newest first
			b, ok := toBuild(p.cfg.Name, j, jb, ov.At)
			switch {
			case !ok:
			case !b.Complete:
				ov.Running = append(ov.Running, b)
				pipeline = append(pipeline, isPipeline(jb))
			default:
				if _, seen := ov.Last[b.Builder]; !seen {
					ov.Last[b.Builder] = b
				}
			}
		}
	}
	p.addStages(ctx, ov.Running, pipeline)
	return ov, nil
}
