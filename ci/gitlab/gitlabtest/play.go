package gitlabtest

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// DefaultJobs are the jobs of a pipeline made without its own: a build and a test stage.
var DefaultJobs = []JobSpec{{Stage: "build", Name: "compile"}, {Stage: "test", Name: "unit"}}

// AddProject adds a project by its full path with its branches (the default branch first)
// and returns its id. Pipelines created over the API on it run DefaultJobs, or SetJobs'.
func (s *Server) AddProject(path, defaultBranch string, branches ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &project{
		id: s.newIDLocked(), path: path, defaultBranch: defaultBranch,
		branches: append([]string{defaultBranch}, branches...),
		commit:   Commit{SHA: fmt.Sprintf("%040x", s.nextID), AuthorName: "Ada Lovelace", AuthorEmail: "ada@example.com", Message: "Make it work\n\nwith a body"},
	}
	s.projects = append(s.projects, p)
	s.notifyLocked()
	return p.id
}

// SetJobs sets the jobs of the pipelines created over the API on a project.
func (s *Server) SetJobs(path string, jobs ...JobSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projectLocked(path); p != nil {
		p.specsForAPI = append([]JobSpec(nil), jobs...)
	}
}

// SetCommit sets the commit the project's next pipelines run.
func (s *Server) SetCommit(path string, c Commit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projectLocked(path); p != nil {
		p.commit = c
	}
}

// AddRunner adds a runner the token can see.
func (s *Server) AddRunner(r Runner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runners = append(s.runners, r)
}

// PipelineOptions are a pipeline's own settings.
type PipelineOptions struct {
	Source    string // push (the default), web, api, schedule, ...
	User      User   // who triggered it; the zero value is the token's owner
	Variables map[string]string
	Jobs      []JobSpec // nil: the project's (DefaultJobs unless SetJobs)
	// MergeRequestIID makes a merge request pipeline of that merge request, whose source
	// branch is the ref given: source merge_request_event, the API's ref
	// refs/merge-requests/<iid>/head, the Pipeline Hook's ref the source branch and its
	// merge_request the merge request.
	MergeRequestIID int64
}

// CreatePipeline makes a pipeline on ref, pending, and returns its id; "" for a project
// the fake does not have.
func (s *Server) CreatePipeline(path, ref string, opts PipelineOptions) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projectLocked(path)
	if p == nil {
		return 0
	}
	return s.createLocked(p, ref, opts).id
}

func (s *Server) createLocked(pr *project, ref string, opts PipelineOptions) *pipeline {
	now := s.opts.Clock()
	if opts.Source == "" {
		opts.Source = "push"
	}
	if opts.User.Username == "" {
		opts.User = s.user
	}
	specs := opts.Jobs
	if specs == nil {
		specs = pr.specsForAPI
	}
	if specs == nil {
		specs = DefaultJobs
	}
	iid := int64(1)
	for _, p := range s.pipelines {
		if p.project == pr {
			iid = max(iid, p.iid+1)
		}
	}
	pl := &pipeline{
		id: s.newIDLocked(), iid: iid, project: pr, status: "pending", source: opts.Source, ref: ref, sha: pr.commit.SHA,
		commit: pr.commit, user: opts.User, variables: opts.Variables, specs: append([]JobSpec(nil), specs...),
		createdAt: now, updatedAt: now, runs: 1,
	}
	for _, sp := range specs {
		if !contains(pl.stages, sp.Stage) {
			pl.stages = append(pl.stages, sp.Stage)
		}
		pl.jobs = append(pl.jobs, &job{id: s.newIDLocked(), spec: sp, run: 1, status: "created", user: opts.User, createdAt: now})
	}
	for _, j := range pl.jobs {
		if j.spec.Manual {
			j.status = "manual"
		} else if j.spec.Stage == pl.stages[0] {
			j.status = "pending"
		}
	}
	if opts.MergeRequestIID > 0 {
		pl.source, pl.mrIID, pl.mrSource = "merge_request_event", opts.MergeRequestIID, ref
		pl.ref = fmt.Sprintf("refs/merge-requests/%d/head", opts.MergeRequestIID)
	}
	s.pipelines = append(s.pipelines, pl)
	s.hook.pipelineLocked(pl)
	s.notifyLocked()
	return pl
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// latest are the jobs that are not retried, in the pipeline's order.
func (pl *pipeline) latest() []*job {
	var out []*job
	for _, j := range pl.jobs {
		if !j.retried {
			out = append(out, j)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		return stageIndex(pl, out[a].spec.Stage) < stageIndex(pl, out[b].spec.Stage)
	})
	return out
}

func stageIndex(pl *pipeline, stage string) int {
	for i, s := range pl.stages {
		if s == stage {
			return i
		}
	}
	return len(pl.stages)
}

func finished(status string) bool {
	switch status {
	case "success", "failed", "canceled", "skipped":
		return true
	}
	return false
}

// Start runs a pending pipeline: its first waiting stage's jobs start.
func (s *Server) Start(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pipelineLocked(id)
	if pl == nil {
		return fmt.Errorf("gitlabtest: no pipeline %d", id)
	}
	now := s.opts.Clock()
	for _, st := range pl.stages {
		started := false
		for _, j := range pl.latest() {
			if j.spec.Stage == st && !finished(j.status) && j.status != "manual" {
				j.status, j.startedAt, started = "running", now, true
				s.hook.jobLocked(pl, j)
			}
		}
		if started {
			break
		}
	}
	s.setStatusLocked(pl, "running")
	return nil
}

// Finish plays a pipeline to its end: every job that has not finished runs, stage by
// stage, and fails while it has run no more than its FailRuns; a stage with a failure
// that is not allowed skips the later stages.
func (s *Server) Finish(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pipelineLocked(id)
	if pl == nil {
		return fmt.Errorf("gitlabtest: no pipeline %d", id)
	}
	s.setStatusLocked(pl, "running")
	now := s.opts.Clock()
	broken := false
	for _, st := range pl.stages {
		for _, j := range pl.latest() {
			if j.spec.Stage != st || finished(j.status) || j.status == "manual" {
				continue // a manual job waits for Play
			}
			if broken {
				j.status = "skipped"
				s.hook.jobLocked(pl, j)
				continue
			}
			for {
				if j.startedAt.IsZero() {
					j.startedAt = now
				}
				j.finishedAt = now
				if fails(pl, j) {
					j.status, j.failureReason = "failed", "script_failure"
				} else {
					j.status = "success"
				}
				s.hook.jobLocked(pl, j)
				if j.status != "failed" || autoRetries(pl, j) >= j.spec.AutoRetry {
					break
				}
				// retry: GitLab keeps the failed job, marked retried, and makes its next try
				// at once, in the same run: the pipeline goes on running.
				j.retried = true
				nj := &job{id: s.newIDLocked(), spec: j.spec, run: j.run, status: "pending", user: j.user, createdAt: now}
				pl.jobs = append(pl.jobs, nj)
				s.hook.jobLocked(pl, nj)
				j = nj
			}
		}
		for _, j := range pl.latest() {
			if j.spec.Stage == st && j.status == "failed" && !j.spec.AllowFailure && !j.spec.Manual {
				broken = true
			}
		}
	}
	status := "success"
	if broken {
		status = "failed"
	}
	pl.finishedAt = now
	s.setStatusLocked(pl, status)
	return nil
}

// autoRetries is how many times the retry: keyword has retried j in its run so far.
func autoRetries(pl *pipeline, j *job) int {
	n := 0
	for _, x := range pl.jobs {
		if x.spec.Name == j.spec.Name && x.run == j.run && x.id < j.id {
			n++
		}
	}
	return n
}

// fails says whether a job's run fails: the n-th run of a name fails while n <= FailRuns.
func fails(pl *pipeline, j *job) bool {
	if j.spec.FailRuns < 0 {
		return true
	}
	n := 0
	for _, x := range pl.jobs {
		if x.spec.Name == j.spec.Name && x.id <= j.id {
			n++
		}
	}
	return n <= j.spec.FailRuns
}

// setStatusLocked moves a pipeline to status, as GitLab's state machine does: started_at
// when it first runs from a waiting status (a retried pipeline goes from its finish to
// running and keeps it), and a Pipeline Hook for every change.
func (s *Server) setStatusLocked(pl *pipeline, status string) {
	if pl.status == status {
		return
	}
	now := s.opts.Clock()
	if status == "running" && !finished(pl.status) && pl.startedAt.IsZero() {
		pl.startedAt = now
	}
	if finished(status) {
		pl.finishedAt = now
	}
	pl.status = status
	pl.updatedAt = now
	s.hook.pipelineLocked(pl)
	s.notifyLocked()
}

// cancelLocked cancels every job that has not finished, then the pipeline.
func (s *Server) cancelLocked(pl *pipeline) {
	if finished(pl.status) {
		return
	}
	now := s.opts.Clock()
	for _, j := range pl.latest() {
		if !finished(j.status) && j.status != "manual" {
			j.status, j.finishedAt = "canceled", now
			s.hook.jobLocked(pl, j)
		}
	}
	s.setStatusLocked(pl, "canceled")
}

// retryLocked retries a pipeline as GitLab does: each failed or canceled job is kept,
// marked retried, and a new job of its name is made; skipped jobs wait again; the
// pipeline runs again under its id.
func (s *Server) retryLocked(pl *pipeline, by User) {
	var retry []*job
	for _, j := range pl.latest() {
		if (j.status == "failed" || j.status == "canceled") && !j.spec.NotRetryable {
			retry = append(retry, j)
		}
	}
	if len(retry) == 0 {
		return
	}
	now := s.opts.Clock()
	pl.runs++
	for _, j := range retry {
		j.retried = true
		nj := &job{id: s.newIDLocked(), spec: j.spec, run: pl.runs, status: "pending", user: by, createdAt: now}
		pl.jobs = append(pl.jobs, nj)
		s.hook.jobLocked(pl, nj)
	}
	for _, j := range pl.latest() {
		if j.status == "skipped" {
			j.status = "created"
		}
	}
	s.setStatusLocked(pl, "running")
}

// Play plays the manual job called name of a pipeline, as the job's play button does: the
// job itself (no new job) becomes pending and runs, and the pipeline, finished or not, is
// running again; Finish ends it. GitLab answers a job that is not manual with an error.
func (s *Server) Play(id int64, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pipelineLocked(id)
	if pl == nil {
		return fmt.Errorf("gitlabtest: no pipeline %d", id)
	}
	for _, j := range pl.latest() {
		if j.spec.Name == name && j.status == "manual" {
			j.status, j.startedAt = "running", s.opts.Clock()
			s.hook.jobLocked(pl, j)
			s.setStatusLocked(pl, "running")
			return nil
		}
	}
	return fmt.Errorf("gitlabtest: pipeline %d has no manual job %s to play", id, name)
}

// Retry retries a pipeline as the API does, by user (the zero value: the token's owner).
func (s *Server) Retry(id int64, by User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pipelineLocked(id)
	if pl == nil {
		return fmt.Errorf("gitlabtest: no pipeline %d", id)
	}
	if by.Username == "" {
		by = s.user
	}
	s.retryLocked(pl, by)
	return nil
}

// PipelineState is what a test may check of a pipeline.
type PipelineState struct {
	ID, IID   int64
	Project   string
	Status    string
	Ref       string
	Source    string
	Runs      int
	Variables map[string]string
	Jobs      int // every job made, retried ones too
}

// Pipeline is a pipeline's state; ok is false when there is none.
func (s *Server) Pipeline(id int64) (PipelineState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pl := s.pipelineLocked(id)
	if pl == nil {
		return PipelineState{}, false
	}
	vars := map[string]string{}
	for k, v := range pl.variables {
		vars[k] = v
	}
	return PipelineState{
		ID: pl.id, IID: pl.iid, Project: pl.project.path, Status: pl.status, Ref: pl.ref, Source: pl.source,
		Runs: pl.runs, Variables: vars, Jobs: len(pl.jobs),
	}, true
}

// Pipelines lists the ids of every pipeline, oldest first.
func (s *Server) Pipelines() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, len(s.pipelines))
	for i, p := range s.pipelines {
		out[i] = p.id
	}
	return out
}

// Touch marks a pipeline updated now, as GitLab does for changes herald does not follow.
func (s *Server) Touch(id int64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pl := s.pipelineLocked(id); pl != nil {
		pl.updatedAt = at
	}
}

// subject is a message's first line.
func subject(msg string) string {
	s, _, _ := strings.Cut(msg, "\n")
	return s
}
