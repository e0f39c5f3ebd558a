package github

import (
	"context"
	"sort"
	"strconv"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

// An overview answers /status and /last for every workflow at once: per repository the
// workflows and the newest page of runs (running runs and the newest completed run of each
// workflow are on it), a job list per running run for its step, and for a workflow whose last
// completed run is older than that page, its newest completed run. Every one of these is the
// same URL as last time, so between changes they cost 304s; the overview is shared by every
// chat for OverviewTTL.

// DefaultOverviewTTL is how long an overview is reused.
const DefaultOverviewTTL = 10 * time.Second

// OverviewFailureTTL is how long an overview that failed because GitHub did not answer is
// remembered, so that the chats asking meanwhile get the error at once instead of each
// waiting its own timeout.
const OverviewFailureTTL = 5 * time.Second

// maxLastRequests bounds the requests an overview makes for workflows whose last completed
// run is not on the newest page; workflows beyond it are shown without a last build.
const maxLastRequests = 30

var _ ci.Overviewer = (*Provider)(nil)

// Overview implements ci.Overviewer. One fetch runs at a time; callers that waited for it get
// its answer.
func (p *Provider) Overview(ctx context.Context) (ci.Overview, error) {
	return p.ov.Get(ctx, p.fetchOverview)
}

func (p *Provider) fetchOverview(ctx context.Context) (ci.Overview, error) {
	ov := ci.Overview{At: p.now(), Last: map[string]ci.Build{}}
	lastAsked, steps := 0, 0
	for _, r := range p.repos {
		ws, err := p.listWorkflows(ctx, r)
		if err != nil {
			return ci.Overview{}, err
		}
		c, err := p.canonical(ctx, r)
		if err != nil {
			return ci.Overview{}, err
		}
		builders := p.workflowBuilders(c, ws)
		ov.Builders = append(ov.Builders, builders...)
		runs, _, err := p.runsWhere(ctx, r, &gh.ListWorkflowRunsOptions{ListOptions: gh.ListOptions{PerPage: perPage}})
		if err != nil {
			return ci.Overview{}, err
		}
		for _, run := range runs { // newest first
			b, ok := p.toBuild(ctx, r, run)
			switch {
			case !ok, awaitingApproval(run):
			case !b.Complete:
				if steps < maxStepRequests && run.GetStatus() == "in_progress" {
					steps++
					if err := p.addSteps(ctx, r, run, &b); err != nil {
						return ci.Overview{}, err
					}
				}
				ov.Running = append(ov.Running, b)
			default:
				if _, seen := ov.Last[b.Builder]; !seen {
					ov.Last[b.Builder] = b
				}
			}
		}
		for _, b := range builders {
			if _, ok := ov.Last[b.Name]; ok || lastAsked >= maxLastRequests {
				continue
			}
			lastAsked++
			id, _ := strconv.ParseInt(b.ID, 10, 64)
			page, _, err := p.gh.Actions.ListWorkflowRunsByID(ctx, r.Owner, r.Name, id,
				&gh.ListWorkflowRunsOptions{Status: "completed", ListOptions: gh.ListOptions{PerPage: 1}})
			if err != nil {
				return ci.Overview{}, p.apiError("list runs of "+b.Name, err)
			}
			for _, run := range page.WorkflowRuns {
				if lb, ok := p.toBuild(ctx, r, run); ok && lb.Complete {
					ov.Last[b.Name] = lb
				}
			}
		}
	}
	sort.SliceStable(ov.Builders, func(i, j int) bool { return ov.Builders[i].Name < ov.Builders[j].Name })
	return ov, nil
}
