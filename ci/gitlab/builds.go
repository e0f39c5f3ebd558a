package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// The core of the provider: projects are builders, runs of pipelines are builds, the runners
// the token can see are workers. A pipeline's build needs two requests: the pipeline (who
// triggered it, when it started and finished) and its jobs, retried ones too (which run it
// is, its current and failed job, and its commit's author and subject).

// perPage is the longest page GitLab serves.
const perPage = 100

// maxJobPages bounds the pages of jobs read of one pipeline: a thousand jobs, retried ones
// included.
const maxJobPages = 10

// maxListPages bounds the pages read of the runners.
const maxListPages = 10

// maxStepRequests bounds the running pipelines RunningBuilds reads whole; the others are
// shown from the list alone (without owner, author, step or attempt: as their first run).
const maxStepRequests = 20

// Builders lists a builder per project followed; a project is online when the token can
// read it and its CI/CD is enabled. A project the token cannot read (404, 403: a project
// access token sees its own project alone) is offline, said so in its description, so
// that the others are still shown.
func (p *Provider) Builders(ctx context.Context) ([]ci.Builder, error) {
	var out []ci.Builder
	for _, pr := range p.projects {
		proj, _, err := p.gl.Projects.GetProject(pr, nil, gl.WithContext(ctx))
		if unreadable(err) {
			p.log.Warn().Err(p.projectError(pr, err)).Str("project", pr).Msg("gitlab: the token cannot read a project followed; shown offline")
			out = append(out, ci.CleanBuilder(ci.Builder{
				Conn: p.cfg.Name, ID: pr, Name: p.builderName(pr), Description: "the token of " + p.cfg.Name + " cannot read this project",
			}))
			continue
		}
		if err != nil {
			return nil, p.projectError(pr, err)
		}
		out = append(out, ci.CleanBuilder(ci.Builder{
			Conn: p.cfg.Name, ID: pr, Name: p.builderName(pr), Description: proj.Description,
			Online: proj.BuildsAccessLevel != gl.DisabledAccessControl,
		}))
	}
	return out, nil
}

// unreadable says whether GitLab answered that the token may not read a project: 404 (a
// project it may not see) or 403.
func unreadable(err error) bool {
	code := statusOf(err)
	return code == http.StatusNotFound || code == http.StatusForbidden
}

// projectError is apiError for a request about a project, with a 404 said in words: GitLab
// answers 404 for a project the token may not see, too.
func (p *Provider) projectError(project string, err error) error {
	err = p.apiError("get project "+project, err)
	if errors.Is(err, ci.ErrNotFound) {
		return ci.Userf(err, fmt.Sprintf("GitLab at %s has no project %s that the token can see", p.cfg.Name, project))
	}
	return err
}

// allJobs lists every job of a pipeline, retried ones too, every page.
func (p *Provider) allJobs(ctx context.Context, project string, pipelineID int64) ([]*gl.Job, error) {
	var out []*gl.Job
	opts := &gl.ListJobsOptions{ListOptions: gl.ListOptions{PerPage: perPage}, IncludeRetried: gl.Ptr(true)}
	for page := range maxJobPages {
		jobs, resp, err := p.gl.Jobs.ListPipelineJobs(project, pipelineID, opts, gl.WithContext(ctx))
		if err != nil {
			return nil, p.apiError(fmt.Sprintf("list jobs of pipeline %d of %s", pipelineID, project), err)
		}
		out = append(out, jobs...)
		if resp.NextPage == 0 {
			break
		}
		if page == maxJobPages-1 {
			p.log.Warn().Str("project", project).Int64("pipeline_id", pipelineID).Int("jobs", len(out)).
				Msg("gitlab: pipeline has more jobs than herald reads; its run, current and failed job may be wrong")
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// pipelineRun reads a pipeline and its jobs: its current run, and what the jobs tell of
// its runs.
func (p *Provider) pipelineRun(ctx context.Context, project string, pipelineID int64) (run, runs, error) {
	pl, _, err := p.gl.Pipelines.GetPipeline(project, pipelineID, gl.WithContext(ctx))
	if err != nil {
		return run{}, runs{}, p.apiError(fmt.Sprintf("get pipeline %d of %s", pipelineID, project), err)
	}
	jobs, err := p.allJobs(ctx, project, pipelineID)
	if err != nil {
		return run{}, runs{}, err
	}
	r, rs := apiRun(project, pl, jobs)
	p.addFailedTrigger(ctx, project, &r)
	if rs.tries {
		p.parser.numbers.noteTries(pipelineID, rs.attempt)
	}
	p.parser.numbers.number(&r, Result(r.status, r.jobs) != ci.ResultNone)
	return r, rs, nil
}

// failedTrigger names the first trigger job of a pipeline (GitLab's bridges, which neither
// the jobs API nor the Pipeline Hook lists) that failed and was not allowed to, as a step
// ("stage / job"); "" when none did. One request.
func (p *Provider) failedTrigger(ctx context.Context, project string, pipelineID int64) (string, error) {
	bs, _, err := p.gl.Jobs.ListPipelineBridges(project, pipelineID, &gl.ListJobsOptions{ListOptions: gl.ListOptions{PerPage: perPage}}, gl.WithContext(ctx))
	if err != nil {
		return "", p.apiError(fmt.Sprintf("list trigger jobs of pipeline %d of %s", pipelineID, project), err)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].ID < bs[j].ID })
	for _, b := range bs {
		if b.Status == "failed" && !b.AllowFailure {
			return stepName(job{name: b.Name, stage: b.Stage}), nil
		}
	}
	return "", nil
}

// addFailedTrigger adds to a failed run none of whose jobs failed its failed trigger job,
// which the run's failed step then names. A failure to read it is logged: the run is
// still reported, without a step.
func (p *Provider) addFailedTrigger(ctx context.Context, project string, r *run) {
	if r.status != "failed" || failedStep(r.jobs) != "" {
		return
	}
	step, err := p.failedTrigger(ctx, project, r.id)
	if err != nil {
		p.log.Warn().Err(err).Str("project", project).Int64("pipeline_id", r.id).Msg("gitlab: the trigger jobs of a failed pipeline could not be read")
	}
	if step != "" {
		r.jobs = append(r.jobs, job{name: step, status: "failed"})
	}
}

// pipelineBuild reads a pipeline's current run into a build.
func (p *Provider) pipelineBuild(ctx context.Context, project string, pipelineID int64) (ci.Build, error) {
	r, _, err := p.pipelineRun(ctx, project, pipelineID)
	if err != nil {
		return ci.Build{}, err
	}
	return p.parser.build(r)
}

// listBuild is a build from the pipelines list alone, for a running pipeline beyond
// maxStepRequests.
func (p *Provider) listBuild(project string, pl *gl.PipelineInfo) (ci.Build, error) {
	return p.parser.build(run{
		project: project, id: pl.ID, iid: pl.IID, status: pl.Status, ref: apiBranch(pl.Ref), sha: pl.SHA, webURL: pl.WebURL,
		createdAt: deref(pl.CreatedAt), attempt: 1,
	})
}

// RunningBuilds lists the running pipelines of every project (among each one's newest
// hundred), with their current job.
func (p *Provider) RunningBuilds(ctx context.Context) ([]ci.Build, error) {
	var out []ci.Build
	whole := 0
	for _, pr := range p.projects {
		pls, _, err := p.gl.Pipelines.ListProjectPipelines(pr, &gl.ListProjectPipelinesOptions{
			ListOptions: gl.ListOptions{PerPage: perPage}, OrderBy: gl.Ptr("id"), Sort: gl.Ptr("desc"),
		}, gl.WithContext(ctx))
		if unreadable(err) {
			continue // offline in Builders
		}
		if err != nil {
			return nil, p.apiError("list pipelines of "+pr, err)
		}
		for _, pl := range pls {
			if !runningStatuses[pl.Status] || pl.Source == childSource {
				continue
			}
			var b ci.Build
			if whole < maxStepRequests {
				whole++
				b, err = p.pipelineBuild(ctx, pr, pl.ID)
			} else {
				b, err = p.listBuild(pr, pl)
			}
			if errors.Is(err, ci.ErrNotFound) {
				continue // deleted meanwhile
			}
			if err != nil {
				return nil, err
			}
			if !b.Complete {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// LastBuilds returns the last n finished pipelines of a project, newest first (among its
// newest hundred finished; child pipelines are not builds).
func (p *Provider) LastBuilds(ctx context.Context, builder string, n int) ([]ci.Build, error) {
	n = min(max(n, 1), perPage)
	pr, ok := p.projectOf(builder)
	if !ok {
		return nil, p.noBuilder(builder)
	}
	pls, _, err := p.gl.Pipelines.ListProjectPipelines(pr, &gl.ListProjectPipelinesOptions{
		ListOptions: gl.ListOptions{PerPage: perPage}, Scope: gl.Ptr("finished"), OrderBy: gl.Ptr("id"), Sort: gl.Ptr("desc"),
	}, gl.WithContext(ctx))
	if err != nil {
		return nil, p.apiError("list pipelines of "+pr, err)
	}
	var out []ci.Build
	for _, pl := range pls {
		if len(out) >= n {
			break
		}
		if pl.Source == childSource {
			continue
		}
		b, err := p.pipelineBuild(ctx, pr, pl.ID)
		if errors.Is(err, ci.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if b.Complete {
			out = append(out, b)
		}
	}
	return out, nil
}

// Build returns a run of a pipeline by herald's build id "<pipeline id>/<attempt>". GitLab
// shows a pipeline as its newest run: an earlier run's id is not found.
func (p *Provider) Build(ctx context.Context, id string) (ci.Build, error) {
	pipelineID, attempt, err := parseBuildID(id)
	if err != nil {
		return ci.Build{}, fmt.Errorf("gitlab: %s: build %q: %w", p.cfg.Name, ci.CleanText(id), err)
	}
	_, b, err := p.findPipeline(ctx, pipelineID)
	if err != nil {
		return ci.Build{}, err
	}
	if b.Attempt != attempt {
		return ci.Build{}, fmt.Errorf("gitlab: %s: pipeline %d is at run %d, not %d: %w", p.cfg.Name, pipelineID, b.Attempt, attempt, ci.ErrNotFound)
	}
	return b, nil
}

// pipelineProjects remembers which project a pipeline is in (pipeline ids are the
// instance's, so one project has it), for Build, Stop and Rebuild.
type pipelineProjects struct {
	mu sync.Mutex
	m  map[int64]string
}

const maxRememberedPipelines = 10000

func (pp *pipelineProjects) remember(id int64, project string) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.m == nil || len(pp.m) >= maxRememberedPipelines {
		pp.m = map[int64]string{}
	}
	pp.m[id] = project
}

func (pp *pipelineProjects) get(id int64) (string, bool) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pr, ok := pp.m[id]
	return pr, ok
}

// findPipeline reads a pipeline's current run from the project it is in: the one
// remembered, else each followed project in turn.
func (p *Provider) findPipeline(ctx context.Context, pipelineID int64) (string, ci.Build, error) {
	candidates := p.projects
	if pr, ok := p.pipelines.get(pipelineID); ok {
		candidates = []string{pr}
	}
	for _, pr := range candidates {
		b, err := p.pipelineBuild(ctx, pr, pipelineID)
		if errors.Is(err, ci.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", ci.Build{}, err
		}
		p.pipelines.remember(pipelineID, pr)
		return pr, b, nil
	}
	return "", ci.Build{}, fmt.Errorf("gitlab: %s: pipeline %d: %w", p.cfg.Name, pipelineID, ci.ErrNotFound)
}

// Workers lists the runners the token can see (GitLab's "runners available to the user"):
// connected while online. GitLab's list does not say whether a runner is running a job, so
// none is shown busy. A token that may not list runners (403) makes workers unsupported
// (ci.ErrUnsupported), so that following the pipelines goes on without them.
func (p *Provider) Workers(ctx context.Context) ([]ci.Worker, error) {
	var out []ci.Worker
	opts := &gl.ListRunnersOptions{ListOptions: gl.ListOptions{PerPage: perPage}}
	for range maxListPages {
		rs, resp, err := p.gl.Runners.ListRunners(opts, gl.WithContext(ctx))
		if statusOf(err) == http.StatusForbidden {
			return nil, ci.Userf(fmt.Errorf("gitlab: %s: list runners: %w (%w)", p.cfg.Name, ci.ErrUnsupported, err),
				fmt.Sprintf("GitLab does not let the token of %s list runners", p.cfg.Name))
		}
		if err != nil {
			return nil, p.apiError("list runners", err)
		}
		for _, r := range rs {
			name := r.Description
			if name == "" {
				name = r.Name
			}
			if name == "" {
				name = "runner " + strconv.FormatInt(r.ID, 10)
			}
			out = append(out, ci.CleanWorker(ci.Worker{
				Conn: p.cfg.Name, ID: strconv.FormatInt(r.ID, 10), Name: name, Connected: r.Status == "online",
			}))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(out) == 0 {
		// GitLab lists only the runners of projects and groups where the token's user is
		// Maintainer or Owner, never the instance's: a Reporter's token gets an empty list.
		return nil, ci.Userf(fmt.Errorf("gitlab: %s: list runners: none visible: %w", p.cfg.Name, ci.ErrUnsupported),
			fmt.Sprintf("GitLab shows the token of %s no runners (it lists those of projects where the token's user is Maintainer, never the instance's)", p.cfg.Name))
	}
	return out, nil
}
