package github

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

// The core of the provider: workflows are builders, workflow runs (one build per attempt)
// are builds, self-hosted runners are workers. Every list is asked per repository and, being
// the same URL every time, is mostly answered 304 (etag.go).

// maxStepRequests bounds the job lists one call asks for to name running and failed steps;
// builds beyond it are shown without their step.
const maxStepRequests = 20

// perPage is the longest page GitHub serves.
const perPage = 100

// maxListPages bounds the pages read of a list that is not the runs (workflows, runners):
// ten pages of a hundred is more than any repository has.
const maxListPages = 10

// toBuild maps a run of repository r (the webhook's mapping, see payload.go) and remembers
// which repository the run is in. The repository is named as GitHub spells it (the run
// carries it), as a delivery names it. A run without a name is named after its workflow,
// read by workflow_id when no list of workflows was read yet. ok is false for a run GitHub
// sent without its id or number, or a name herald can find, which is logged and skipped.
func (p *Provider) toBuild(ctx context.Context, r repoRef, run *gh.WorkflowRun) (ci.Build, bool) {
	repo := run.GetRepository()
	if repo.GetName() == "" || repo.GetFullName() == "" {
		c := p.canonicalKnown(r)
		name, full := c.Name, c.full()
		repo = &gh.Repository{Name: &name, FullName: &full}
	}
	wfName := ""
	if run.GetName() == "" {
		wfName = p.workflowName(ctx, r, run.GetWorkflowID())
	}
	b, err := p.parser.build(run, repo, wfName)
	if err != nil {
		p.log.Warn().Err(err).Str("repo", r.full()).Int64("run_id", run.GetID()).Msg("github: run skipped")
		return ci.Build{}, false
	}
	p.rememberRun(run.GetID(), r)
	switch {
	case b.Complete:
		p.untrack(b.ID)
	case !awaitingApproval(run):
		// A run awaiting approval may wait for ever; once approved, it is found as any
		// other run (its webhooks, the list).
		p.track(r, run.GetID(), b.Attempt)
	}
	return b, true
}

// workflowName is the name of a workflow of r by its id: from the last list of workflows
// read, else from a new one; "" when it is not found.
func (p *Provider) workflowName(ctx context.Context, r repoRef, id int64) string {
	if id == 0 {
		return ""
	}
	p.mu.Lock()
	name, ok := p.wfNames[id]
	p.mu.Unlock()
	if ok {
		return name
	}
	if _, err := p.listWorkflows(ctx, r); err != nil {
		p.log.Warn().Err(err).Str("repo", r.full()).Int64("workflow_id", id).Msg("github: the workflow of a run without a name could not be read")
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wfNames[id]
}

// maxWorkflowNames bounds the workflow id → name map; when full it starts over.
const maxWorkflowNames = 10000

// canonicalKnown is r as GitHub spells it when herald has read it (canonical), else as the
// config writes it.
func (p *Provider) canonicalKnown(r repoRef) repoRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.canon[strings.ToLower(r.full())]; ok {
		return c
	}
	return r
}

// canonical is r as GitHub spells it (owner/name are case-insensitive, and a builder's
// name holds the repository's): read once per repository, GET /repos/{owner}/{repo}.
func (p *Provider) canonical(ctx context.Context, r repoRef) (repoRef, error) {
	p.mu.Lock()
	c, ok := p.canon[strings.ToLower(r.full())]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	repo, _, err := p.gh.Repositories.Get(ctx, r.Owner, r.Name)
	if err != nil {
		return repoRef{}, p.apiError("get repository "+r.full(), err)
	}
	return p.learnCanonical(r, repo), nil
}

// learnCanonical records how GitHub spells r, from a repository GitHub answered.
func (p *Provider) learnCanonical(r repoRef, repo *gh.Repository) repoRef {
	c := r
	if ref, err := parseRepo(repo.GetFullName()); err == nil && strings.EqualFold(ref.full(), r.full()) {
		c = ref
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.canon[strings.ToLower(r.full())] = c
	return c
}

// maxRememberedRuns bounds the run → repository map; when full it starts over (a forgotten
// run is found again by asking each repository).
const maxRememberedRuns = 10000

func (p *Provider) rememberRun(id int64, r repoRef) {
	if len(p.repos) == 1 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.runRepo) >= maxRememberedRuns {
		p.runRepo = map[int64]repoRef{}
	}
	p.runRepo[id] = r
}

// getRun reads one attempt of a run (attempt 0: as it is now) from the repository it is in:
// the one remembered, else each followed repository in turn.
func (p *Provider) getRun(ctx context.Context, runID int64, attempt int) (repoRef, *gh.WorkflowRun, error) {
	p.mu.Lock()
	known, ok := p.runRepo[runID]
	p.mu.Unlock()
	candidates := p.repos
	if ok {
		candidates = []repoRef{known}
	}
	for _, r := range candidates {
		var (
			run *gh.WorkflowRun
			err error
		)
		if attempt > 0 {
			run, _, err = p.gh.Actions.GetWorkflowRunAttempt(ctx, r.Owner, r.Name, runID, attempt, nil)
		} else {
			run, _, err = p.gh.Actions.GetWorkflowRunByID(ctx, r.Owner, r.Name, runID)
		}
		err = p.apiError(fmt.Sprintf("get run %d of %s", runID, r.full()), err)
		if errors.Is(err, ci.ErrNotFound) {
			continue
		}
		if err != nil {
			return repoRef{}, nil, err
		}
		p.rememberRun(runID, r)
		return r, run, nil
	}
	return repoRef{}, nil, fmt.Errorf("github: %s: run %d: %w", p.cfg.Name, runID, ci.ErrNotFound)
}

// listWorkflows lists a repository's workflows, every page.
func (p *Provider) listWorkflows(ctx context.Context, r repoRef) ([]*gh.Workflow, error) {
	var out []*gh.Workflow
	opts := &gh.ListOptions{PerPage: perPage}
	for range maxListPages {
		ws, resp, err := p.gh.Actions.ListWorkflows(ctx, r.Owner, r.Name, opts)
		if err != nil {
			return nil, p.apiError("list workflows of "+r.full(), err)
		}
		out = append(out, ws.Workflows...)
		p.mu.Lock()
		if len(p.wfNames) >= maxWorkflowNames {
			p.wfNames = map[int64]string{}
		}
		for _, w := range ws.Workflows {
			p.wfNames[w.GetID()] = w.GetName()
		}
		p.mu.Unlock()
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// workflowBuilders are the builders of a repository's workflows. A deleted workflow (GitHub
// lists one while runs of it remain) is no builder; a disabled one is, offline.
func (p *Provider) workflowBuilders(r repoRef, ws []*gh.Workflow) []ci.Builder {
	var out []ci.Builder
	for _, w := range ws {
		if w.GetState() == "deleted" || w.GetName() == "" {
			continue
		}
		out = append(out, ci.CleanBuilder(ci.Builder{
			Conn: p.cfg.Name, ID: strconv.FormatInt(w.GetID(), 10), Name: p.builderName(r, w.GetName()),
			Description: w.GetPath(), Online: w.GetState() == "active",
		}))
	}
	return out
}

// Builders lists the workflows of every repository followed; a workflow is online while it
// is active (not disabled).
func (p *Provider) Builders(ctx context.Context) ([]ci.Builder, error) {
	var out []ci.Builder
	for _, r := range p.repos {
		ws, err := p.listWorkflows(ctx, r)
		if err != nil {
			return nil, err
		}
		c, err := p.canonical(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, p.workflowBuilders(c, ws)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// findWorkflows finds the workflows a builder name stands for: "CI" with one repository,
// "widgets/CI" with several. GitHub lets two workflow files carry the same name; both are
// the one builder then, as their runs are.
func (p *Provider) findWorkflows(ctx context.Context, builder string) (repoRef, []*gh.Workflow, error) {
	r, name := p.repos[0], builder
	if len(p.repos) > 1 {
		repo, wf, ok := strings.Cut(builder, "/")
		found := false
		if ok {
			r, found = p.repoOf(repo)
		}
		if !found {
			return repoRef{}, nil, p.noBuilder(builder)
		}
		name = wf
	}
	ws, err := p.listWorkflows(ctx, r)
	if err != nil {
		return repoRef{}, nil, err
	}
	var out []*gh.Workflow
	for _, w := range ws {
		if w.GetState() != "deleted" && ci.CleanText(w.GetName()) == name {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return repoRef{}, nil, p.noBuilder(builder)
	}
	return r, out, nil
}

func (p *Provider) noBuilder(builder string) error {
	return ci.Userf(fmt.Errorf("github: %s: builder %q: %w", p.cfg.Name, builder, ci.ErrNotFound),
		fmt.Sprintf("no workflow %s on %s", builder, p.cfg.Name))
}

// runsWhere lists the first page of runs of a repository with the given filter.
func (p *Provider) runsWhere(ctx context.Context, r repoRef, opts *gh.ListWorkflowRunsOptions) ([]*gh.WorkflowRun, *gh.Response, error) {
	runs, resp, err := p.gh.Actions.ListRepositoryWorkflowRuns(ctx, r.Owner, r.Name, opts)
	if err != nil {
		return nil, nil, p.apiError("list runs of "+r.full(), err)
	}
	return runs.WorkflowRuns, resp, nil
}

// runningStatuses are the statuses of a run that has not completed, each its own filter of
// the list (GitHub filters by one status at a time).
var runningStatuses = []string{"in_progress", "queued", "requested", "waiting", "pending"}

// RunningBuilds lists the runs of every repository that have not completed (queued,
// waiting for an environment's reviewers, running...) with the step running now (the first
// maxStepRequests of them). Each status is one request, a 304 while nothing changed.
func (p *Provider) RunningBuilds(ctx context.Context) ([]ci.Build, error) {
	type running struct {
		r   repoRef
		run *gh.WorkflowRun
	}
	var all []running
	seen := map[int64]bool{}
	for _, r := range p.repos {
		for _, status := range runningStatuses {
			runs, _, err := p.runsWhere(ctx, r, &gh.ListWorkflowRunsOptions{Status: status, ListOptions: gh.ListOptions{PerPage: perPage}})
			if err != nil {
				return nil, err
			}
			for _, run := range runs {
				if !seen[run.GetID()] && run.GetStatus() != "completed" {
					seen[run.GetID()] = true
					all = append(all, running{r, run})
				}
			}
		}
	}
	out := make([]ci.Build, 0, len(all))
	steps := 0
	for _, x := range all {
		b, ok := p.toBuild(ctx, x.r, x.run)
		if !ok {
			continue
		}
		if steps < maxStepRequests && x.run.GetStatus() == "in_progress" {
			steps++
			if err := p.addSteps(ctx, x.r, x.run, &b); err != nil {
				return nil, err
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// addSteps fills a build's current step (running) or failed step (failed) from the jobs of
// its attempt: one request.
func (p *Provider) addSteps(ctx context.Context, r repoRef, run *gh.WorkflowRun, b *ci.Build) error {
	attempt := int64(max(run.GetRunAttempt(), 1))
	jobs, _, err := p.gh.Actions.ListWorkflowJobsAttempt(ctx, r.Owner, r.Name, run.GetID(), attempt, &gh.ListOptions{PerPage: perPage})
	if err != nil {
		return p.apiError(fmt.Sprintf("list jobs of run %d of %s", run.GetID(), r.full()), err)
	}
	if b.Complete {
		b.FailedStep = ci.CleanText(failedStep(jobs.Jobs))
	} else {
		b.CurrentStep = ci.CleanText(currentStep(jobs.Jobs))
	}
	return nil
}

// needsFailedStep says whether a build's failed step is worth a request.
func needsFailedStep(b ci.Build) bool { return b.Complete && b.Result == ci.ResultFailure }

// currentStep is "job / step" of the first job running, "job" when no step of it runs yet.
func currentStep(jobs []*gh.WorkflowJob) string {
	for _, j := range jobs {
		if j.GetStatus() != "in_progress" {
			continue
		}
		for _, s := range j.Steps {
			if s.GetStatus() == "in_progress" {
				return j.GetName() + " / " + s.GetName()
			}
		}
		return j.GetName()
	}
	return ""
}

// failedStep is "job / step" of the first job that failed and its first failed step, "job"
// when no step failed (a job that timed out, or failed before its steps).
func failedStep(jobs []*gh.WorkflowJob) string {
	for _, j := range jobs {
		if c := j.GetConclusion(); c != "failure" && c != "timed_out" && c != "startup_failure" {
			continue
		}
		for _, s := range j.Steps {
			if c := s.GetConclusion(); c == "failure" || c == "timed_out" {
				return j.GetName() + " / " + s.GetName()
			}
		}
		return j.GetName()
	}
	return ""
}

// LastBuilds returns the last n completed runs of a workflow, newest first, failed ones
// with their failed step.
func (p *Provider) LastBuilds(ctx context.Context, builder string, n int) ([]ci.Build, error) {
	n = min(max(n, 1), perPage)
	r, ws, err := p.findWorkflows(ctx, builder)
	if err != nil {
		return nil, err
	}
	var runs []*gh.WorkflowRun
	for _, w := range ws {
		page, _, err := p.gh.Actions.ListWorkflowRunsByID(ctx, r.Owner, r.Name, w.GetID(),
			&gh.ListWorkflowRunsOptions{Status: "completed", ListOptions: gh.ListOptions{PerPage: n}})
		if err != nil {
			return nil, p.apiError("list runs of "+builder, err)
		}
		runs = append(runs, page.WorkflowRuns...)
	}
	var out []ci.Build
	for _, run := range runs {
		if b, ok := p.toBuild(ctx, r, run); ok && b.Complete {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FinishedAt.After(out[j].FinishedAt) })
	out = out[:min(len(out), n)]
	steps := 0
	for i := range out {
		if needsFailedStep(out[i]) && steps < maxStepRequests {
			steps++
			if err := p.addStepsByID(ctx, r, out[i].ID, &out[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// addStepsByID is addSteps for a build known by its id.
func (p *Provider) addStepsByID(ctx context.Context, r repoRef, id string, b *ci.Build) error {
	runID, attempt, err := parseBuildID(id)
	if err != nil {
		return err
	}
	return p.addSteps(ctx, r, &gh.WorkflowRun{ID: &runID, RunAttempt: &attempt}, b)
}

// Build returns one attempt of a run by herald's build id "<run id>/<attempt>", with its
// failed step when it failed and its current step while it runs.
func (p *Provider) Build(ctx context.Context, id string) (ci.Build, error) {
	runID, attempt, err := parseBuildID(id)
	if err != nil {
		return ci.Build{}, err
	}
	r, run, err := p.getRun(ctx, runID, attempt)
	if err != nil {
		return ci.Build{}, err
	}
	b, ok := p.toBuild(ctx, r, run)
	if !ok {
		return ci.Build{}, fmt.Errorf("github: %s: run %d is missing its id, number or name", p.cfg.Name, runID)
	}
	if needsFailedStep(b) || run.GetStatus() == "in_progress" {
		if err := p.addSteps(ctx, r, run, &b); err != nil {
			return ci.Build{}, err
		}
	}
	return b, nil
}

// Workers lists the self-hosted runners registered to every repository (not an
// organisation's, which this endpoint does not list): connected while online, busy while
// running a job. A repository whose runners the token may not read (they need admin rights,
// or an App's administration permission) is skipped, and not asked again for
// RunnersDeniedPause.
func (p *Provider) Workers(ctx context.Context) ([]ci.Worker, error) {
	var out []ci.Worker
	for _, r := range p.repos {
		if p.runnersDenied(r) {
			continue
		}
		c, err := p.canonical(ctx, r)
		if err != nil {
			return nil, err
		}
		opts := &gh.ListRunnersOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
		for range maxListPages {
			rs, resp, err := p.gh.Actions.ListRunners(ctx, r.Owner, r.Name, opts)
			if statusOf(err) == 403 {
				p.deniedRunners(r, err)
				break
			}
			if err != nil {
				return nil, p.apiError("list runners of "+r.full(), err)
			}
			for _, rn := range rs.Runners {
				out = append(out, ci.CleanWorker(ci.Worker{
					Conn: p.cfg.Name, ID: strconv.FormatInt(rn.GetID(), 10), Name: p.builderName(c, rn.GetName()),
					Connected: rn.GetStatus() == "online", Busy: rn.GetBusy(),
				}))
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	}
	return out, nil
}

// RunnersDeniedPause is how long herald leaves a repository's runners alone after GitHub
// denied the token them: the answer will not change until someone changes the token's
// rights, and asking every poll would spend a request each time.
const RunnersDeniedPause = time.Hour

// runnersDenied says whether a repository's runners were denied less than
// RunnersDeniedPause ago.
func (p *Provider) runnersDenied(r repoRef) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now().Before(p.runnersDeny[r.full()])
}

// deniedRunners pauses asking for a repository's runners, and says so in the log (once
// per pause).
func (p *Provider) deniedRunners(r repoRef, err error) {
	p.mu.Lock()
	p.runnersDeny[r.full()] = p.now().Add(RunnersDeniedPause)
	p.mu.Unlock()
	p.log.Warn().Err(err).Str("repo", r.full()).Dur("pause", RunnersDeniedPause).
		Msg("github: the token may not list this repository's runners (repository runners need admin rights; organisation runners are not listed); /list workers skips it for an hour")
}
