package jenkins

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// maxStepRequests bounds the wfapi requests one call makes to name running and failed
// stages; builds beyond it are shown without their stage.
const maxStepRequests = 20

// readJobs reads every followed job with its n newest builds (n 0: none), in one request,
// and remembers which jobs are a multibranch pipeline's branches (the webhook needs it).
func (p *Provider) readJobs(ctx context.Context, n int, extra string) ([]job, error) {
	var root rootJSON
	if err := p.c.getJSON(ctx, "api/json", url.Values{"tree": {jobsTree(n, extra)}}, &root); err != nil {
		return nil, p.apiError("read the jobs", err)
	}
	all, tooDeep := flatten(root.Jobs)
	var out []job
	branches := map[string]string{}
	for _, j := range all {
		j.FullName = ci.CleanText(j.FullName)
		if !p.follows(j.FullName) {
			continue
		}
		branches[j.FullName] = j.Branch
		out = append(out, j)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].FullName < out[b].FullName })
	p.mu.Lock()
	p.branchOf = branches
	logDeep := tooDeep && !p.deepLog
	p.deepLog = p.deepLog || tooDeep
	p.mu.Unlock()
	if logDeep {
		p.log.Warn().Int("depth", maxFolderDepth).Msg("jenkins: folders nested deeper than herald reads; their jobs are not followed")
	}
	return out, nil
}

// builder is a job as a builder: online while it can be built (not disabled).
func (p *Provider) builder(j job) ci.Builder {
	online := j.JSON.Color != "disabled"
	if j.JSON.Buildable != nil {
		online = *j.JSON.Buildable
	}
	return ci.CleanBuilder(ci.Builder{Conn: p.cfg.Name, ID: j.FullName, Name: j.FullName, Online: online})
}

// Builders lists the followed jobs.
func (p *Provider) Builders(ctx context.Context) ([]ci.Builder, error) {
	jobs, err := p.readJobs(ctx, 0, "")
	if err != nil {
		return nil, err
	}
	out := make([]ci.Builder, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, p.builder(j))
	}
	return out, nil
}

// RunningBuilds lists the builds in progress of every followed job (each job's newest
// pollBuilds are read: more running at once than that are not shown), with the stage
// running now.
func (p *Provider) RunningBuilds(ctx context.Context) ([]ci.Build, error) {
	jobs, err := p.readJobs(ctx, pollBuilds, "")
	if err != nil {
		return nil, err
	}
	var (
		out      []ci.Build
		pipeline []bool
	)
	now := p.now()
	for _, j := range jobs {
		for _, jb := range j.JSON.Builds {
			if b, ok := toBuild(p.cfg.Name, j, jb, now); ok && !b.Complete {
				out = append(out, b)
				pipeline = append(pipeline, isPipeline(jb))
			}
		}
	}
	p.addStages(ctx, out, pipeline)
	return out, nil
}

// maxBuildsListed is how many builds Jenkins lists in a job's builds field: its newest 100.
const maxBuildsListed = 100

// LastBuilds returns the last n completed builds of a job, newest first, failed ones with
// their failed stage.
func (p *Provider) LastBuilds(ctx context.Context, builder string, n int) ([]ci.Build, error) {
	n = min(max(n, 1), 100)
	if !p.follows(builder) {
		return nil, p.noJob(builder)
	}
	var jj jobJSON
	q := url.Values{"tree": {"name,url,color,buildable,builds[" + buildTree + "]{0," + fmt.Sprint(min(n+pollBuilds, maxBuildsListed)) + "}"}}
	if err := p.c.getJSON(ctx, jobPath(builder)+"api/json", q, &jj); err != nil {
		if err = p.apiError("read job "+builder, err); errors.Is(err, ci.ErrNotFound) {
			return nil, p.noJob(builder)
		}
		return nil, err
	}
	j := job{FullName: builder, Branch: p.branchOfJob(ctx, builder), JSON: jj}
	var (
		out      []ci.Build
		pipeline []bool
	)
	now := p.now()
	for _, jb := range jj.Builds {
		if b, ok := toBuild(p.cfg.Name, j, jb, now); ok && b.Complete && len(out) < n {
			out = append(out, b)
			pipeline = append(pipeline, isPipeline(jb))
		}
	}
	p.addStages(ctx, out, pipeline)
	return out, nil
}

// knownBranch is the branch of a multibranch pipeline's branch job, as the last read of the
// jobs found; "" for any other job. It reads nothing.
func (p *Provider) knownBranch(fullName string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.branchOf[fullName]
}

// branchOfJob is knownBranch for a job the jobs were not read for yet: its folder is asked
// once whether it is a multibranch pipeline (the answer is kept until the next read).
func (p *Provider) branchOfJob(ctx context.Context, fullName string) string {
	p.mu.Lock()
	b, known := p.branchOf[fullName]
	p.mu.Unlock()
	i := strings.LastIndexByte(fullName, '/')
	if known || i < 0 {
		return b
	}
	var parent jobJSON
	if err := p.c.getJSON(ctx, jobPath(fullName[:i])+"api/json", url.Values{"tree": {"name"}}, &parent); err != nil {
		return "" // the build is shown without its branch
	}
	if isMultibranch(parent) {
		if d, err := url.PathUnescape(fullName[i+1:]); err == nil {
			b = d
		}
	}
	p.mu.Lock()
	p.branchOf[fullName] = b
	p.mu.Unlock()
	return b
}

// Build returns one build by its id "<job>#<number>".
func (p *Provider) Build(ctx context.Context, id string) (ci.Build, error) {
	return p.build(ctx, id, true)
}

// build reads one build; a running one's stage only with runningStage (a failed one's
// always).
func (p *Provider) build(ctx context.Context, id string, runningStage bool) (ci.Build, error) {
	name, number, err := parseBuildID(id)
	if err != nil {
		return ci.Build{}, err
	}
	if !p.follows(name) {
		return ci.Build{}, fmt.Errorf("jenkins: %s: build %s: job not followed: %w", p.cfg.Name, ci.CleanText(id), ci.ErrNotFound)
	}
	var jb buildJSON
	if err := p.c.getJSON(ctx, buildPath(name, number)+"api/json", url.Values{"tree": {buildTree}}, &jb); err != nil {
		return ci.Build{}, p.apiError("read build "+id, err)
	}
	b, ok := toBuild(p.cfg.Name, job{FullName: name, Branch: p.branchOfJob(ctx, name)}, jb, p.now())
	if !ok {
		return ci.Build{}, fmt.Errorf("jenkins: %s: build %s has no number", p.cfg.Name, ci.CleanText(id))
	}
	if strings.Contains(id, "@q") && b.ID != id {
		// The job was made again since: its build of that number is another build.
		return ci.Build{}, fmt.Errorf("jenkins: %s: build %s: the job's build #%d is now %s: %w",
			p.cfg.Name, ci.CleanText(id), number, b.ID, ci.ErrNotFound)
	}
	bs := []ci.Build{b}
	p.addStages(ctx, bs, []bool{isPipeline(jb) && (runningStage || b.Complete)})
	return bs[0], nil
}

// computerJSON is a node of computer/api/json.
type computerJSON struct {
	DisplayName string `json:"displayName"`
	Offline     bool   `json:"offline"`
	Idle        bool   `json:"idle"`
}

// Workers lists Jenkins' nodes (the built-in node among them): connected while online, busy
// while an executor of theirs runs a build.
func (p *Provider) Workers(ctx context.Context) ([]ci.Worker, error) {
	var ans struct {
		Computer []computerJSON `json:"computer"`
	}
	if err := p.c.getJSON(ctx, "computer/api/json", url.Values{"tree": {"computer[displayName,offline,idle]"}}, &ans); err != nil {
		return nil, p.apiError("list the nodes", err)
	}
	out := make([]ci.Worker, 0, len(ans.Computer))
	for _, c := range ans.Computer {
		if c.DisplayName == "" {
			continue
		}
		out = append(out, ci.CleanWorker(ci.Worker{
			Conn: p.cfg.Name, ID: c.DisplayName, Name: c.DisplayName, Connected: !c.Offline, Busy: !c.Idle,
		}))
	}
	return out, nil
}
