package githubtest

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// run is a workflow run; each re-run adds an attempt and keeps id, number and created_at.
type run struct {
	id       int64
	repo     *repo
	wf       *workflow
	number   int
	branch   string
	sha      string
	event    string
	actor    string
	message  string
	author   string
	created  time.Time
	inputs   map[string]any // a dispatch's inputs; nil otherwise
	attempts []*attempt     // attempts[n-1] is run_attempt n

	emptyName bool   // RunOptions.EmptyName
	headRepo  string // RunOptions.HeadRepo
}

func (rn *run) latest() *attempt { return rn.attempts[len(rn.attempts)-1] }

// attempt is one execution of a run.
type attempt struct {
	number          int
	status          string // queued, in_progress, completed
	conclusion      string // "" until completed
	started         time.Time
	updated         time.Time
	triggeringActor string
	checkSuiteID    int64
	jobs            []*job
	cancelling      bool // a cancel was accepted; it completes as cancelled soon
}

// job is one job of an attempt, with its steps.
type job struct {
	id         int64
	attempt    int
	name       string
	status     string
	conclusion string
	created    time.Time
	started    time.Time
	completed  time.Time
	steps      []*step
	runner     *runner // nil while queued
}

type step struct {
	name       string
	number     int
	status     string
	conclusion string
	started    time.Time
	completed  time.Time
}

// RunOptions describe what triggered a run QueueRun creates.
type RunOptions struct {
	Branch  string // default: the repository's default branch
	SHA     string // default: a made-up sha, different for every run
	Event   string // default "push"
	Actor   string // default "octocat"
	Message string // head commit message; default "Update widgets"
	Author  string // head commit author's name; default "Mona Octocat"
	// AwaitApproval makes the run wait for approval, as a first-time contributor's pull
	// request does: GitHub shows it completed with conclusion action_required from its
	// requested delivery on, and ApproveRun lets it run on, same id, same attempt.
	AwaitApproval bool
	// EmptyName leaves the run's name empty, as GitHub's own requested example payload
	// has it; the workflow keeps its name.
	EmptyName bool
	// HeadRepo, if set, is the owner/name of the fork the run's head commit comes from
	// (a pull request from a fork): its head_repository. It need not be a repository
	// of the fake.
	HeadRepo string
}

// QueueRun creates a queued run of a workflow, as a push would, sends the
// workflow_run "requested" delivery and returns the run's id.
func (s *Server) QueueRun(repoName string, workflowID int64, o RunOptions) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(repoName)
	var wf *workflow
	for _, x := range rp.workflows {
		if x.id == workflowID {
			wf = x
		}
	}
	if wf == nil {
		panic(fmt.Sprintf("githubtest: QueueRun: no workflow %d in %s", workflowID, repoName))
	}
	if o.Branch == "" {
		o.Branch = rp.defaultBranch
	}
	if o.Event == "" {
		o.Event = "push"
	}
	if o.Actor == "" {
		o.Actor = "octocat"
	}
	if o.Message == "" {
		o.Message = "Update widgets"
	}
	if o.Author == "" {
		o.Author = "Mona Octocat"
	}
	return s.queueRunLocked(wf, o, nil).id
}

func (s *Server) queueRunLocked(wf *workflow, o RunOptions, inputs map[string]any) *run {
	now := s.now()
	id := s.newIDLocked("run")
	if o.SHA == "" {
		sum := sha1.Sum([]byte(fmt.Sprintf("%s@%s#%d", wf.repo.full(), o.Branch, id)))
		o.SHA = hex.EncodeToString(sum[:])
	}
	rn := &run{
		id: id, repo: wf.repo, wf: wf, number: wf.nextNumber, branch: o.Branch, sha: o.SHA,
		event: o.Event, actor: o.Actor, message: o.Message, author: o.Author, created: now,
		inputs: inputs,
	}
	wf.nextNumber++
	rn.emptyName, rn.headRepo = o.EmptyName, o.HeadRepo
	rn.attempts = []*attempt{{number: 1, status: "queued", started: now, updated: now,
		triggeringActor: o.Actor, checkSuiteID: s.newIDLocked("suite")}}
	if o.AwaitApproval {
		rn.attempts[0].status, rn.attempts[0].conclusion = "completed", "action_required"
	}
	s.runs[id] = rn
	s.runOrder = append(s.runOrder, rn)
	s.runEventLocked(rn, "requested")
	s.notifyLocked()
	return rn
}

func (s *Server) mustRunLocked(runID int64) *run {
	rn := s.runs[runID]
	if rn == nil {
		panic(fmt.Sprintf("githubtest: no run %d", runID))
	}
	return rn
}

// ApproveRun approves a run that waits for approval (RunOptions.AwaitApproval): its
// attempt is queued again, to be started and completed as any other. It panics if the run
// does not wait for approval.
func (s *Server) ApproveRun(runID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.mustRunLocked(runID).latest()
	if at.status != "completed" || at.conclusion != "action_required" {
		panic(fmt.Sprintf("githubtest: ApproveRun: run %d does not wait for approval", runID))
	}
	at.status, at.conclusion, at.updated = "queued", "", s.now()
	s.notifyLocked()
}

// HoldRun puts the run's latest attempt in status (waiting: a job waits for an
// environment's reviewers; pending: for a concurrency group; requested), as it is before
// StartRun. It panics if the attempt is completed or status is none of those.
func (s *Server) HoldRun(runID int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.mustRunLocked(runID).latest()
	if at.status == "completed" || (status != "waiting" && status != "pending" && status != "requested") {
		panic(fmt.Sprintf("githubtest: HoldRun: run %d is %s; cannot be %s", runID, at.status, status))
	}
	at.status, at.updated = status, s.now()
	s.notifyLocked()
}

// StartRun puts the run's latest attempt in progress (the workflow_run "in_progress"
// delivery on the first call) with jobName running stepName. A job not seen before
// starts (workflow_job "queued" then "in_progress"), and a job that was running
// before completes successfully: jobs run one after another.
func (s *Server) StartRun(runID int64, jobName, stepName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.startRunLocked(s.mustRunLocked(runID), jobName, stepName)
}

func (s *Server) startRunLocked(rn *run, jobName, stepName string) {
	at := rn.latest()
	if at.status == "completed" {
		panic(fmt.Sprintf("githubtest: StartRun: run %d attempt %d is completed", rn.id, at.number))
	}
	now := s.now()
	at.updated = now
	if at.status != "in_progress" {
		// run_started_at stays the attempt's creation: GitHub sets it when the attempt is
		// made (its example of a queued run has it), not when a runner takes it.
		at.status = "in_progress"
		s.runEventLocked(rn, "in_progress")
	}
	if jobName == "" {
		jobName = "build"
	}
	for _, j := range at.jobs {
		if j.status == "in_progress" && j.name != jobName {
			s.finishJobLocked(rn, j, "success", "")
		}
	}
	j := s.jobLocked(rn, at, jobName)
	if stepName == "" {
		return
	}
	cur := j.steps[len(j.steps)-1]
	if cur.name == stepName && cur.status == "in_progress" {
		return
	}
	if cur.status == "in_progress" {
		cur.status, cur.conclusion, cur.completed = "completed", "success", now
	}
	j.steps = append(j.steps, &step{name: stepName, number: len(j.steps) + 1, status: "in_progress", started: now})
	s.notifyLocked()
}

// jobLocked returns the attempt's job of that name, starting it if it is new or
// still queued.
func (s *Server) jobLocked(rn *run, at *attempt, name string) *job {
	now := s.now()
	var j *job
	for _, x := range at.jobs {
		if x.name == name {
			j = x
		}
	}
	if j == nil {
		j = &job{id: s.newIDLocked("job"), attempt: at.number, name: name, status: "queued", created: now}
		at.jobs = append(at.jobs, j)
		s.jobEventLocked(rn, j, "queued")
	}
	if j.status == "queued" {
		j.status, j.started = "in_progress", now
		j.runner = s.pickRunnerLocked(rn.repo)
		j.steps = append(j.steps, &step{name: "Set up job", number: 1, status: "completed", conclusion: "success", started: now, completed: now})
		j.steps = append(j.steps, &step{name: "Run job", number: 2, status: "in_progress", started: now})
		s.jobEventLocked(rn, j, "in_progress")
	}
	return j
}

// finishJobLocked completes a running job: its running step gets failedStep's
// conclusion when it is that step (or when failedStep is "" and the job fails), the
// others succeed, and a "Complete job" step closes a job that succeeded.
func (s *Server) finishJobLocked(rn *run, j *job, conclusion, failedStep string) {
	now := s.now()
	if failedStep != "" && conclusion != "success" {
		cur := j.steps[len(j.steps)-1]
		if cur.name != failedStep || cur.status != "in_progress" {
			if cur.status == "in_progress" {
				cur.status, cur.conclusion, cur.completed = "completed", "success", now
			}
			j.steps = append(j.steps, &step{name: failedStep, number: len(j.steps) + 1, status: "in_progress", started: now})
		}
	}
	for _, st := range j.steps {
		if st.status != "in_progress" {
			continue
		}
		st.status, st.completed = "completed", now
		st.conclusion = "success"
		if conclusion != "success" {
			st.conclusion = conclusion
		}
	}
	if conclusion == "success" {
		j.steps = append(j.steps, &step{name: "Complete job", number: len(j.steps) + 1, status: "completed", conclusion: "success", started: now, completed: now})
	}
	j.status, j.conclusion, j.completed = "completed", conclusion, now
	s.jobEventLocked(rn, j, "completed")
}

// CompleteRun completes the run's latest attempt with conclusion (success, failure,
// cancelled, timed_out, …). failedJob's failedStep carries the conclusion (the job
// and step are started first if they were not); the other running jobs succeed, or
// are cancelled with a cancelled run. A run that never had a job gets "build".
func (s *Server) CompleteRun(runID int64, conclusion, failedJob, failedStep string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completeRunLocked(s.mustRunLocked(runID), conclusion, failedJob, failedStep)
}

func (s *Server) completeRunLocked(rn *run, conclusion, failedJob, failedStep string) {
	at := rn.latest()
	if at.status == "completed" {
		panic(fmt.Sprintf("githubtest: CompleteRun: run %d attempt %d is completed already", rn.id, at.number))
	}
	if conclusion == "" {
		conclusion = "success"
	}
	if failedJob != "" {
		j := s.jobLocked(rn, at, failedJob)
		s.finishJobLocked(rn, j, conclusion, failedStep)
	}
	others := "success"
	if conclusion == "cancelled" {
		others = "cancelled"
	}
	if len(at.jobs) == 0 && conclusion != "cancelled" {
		j := s.jobLocked(rn, at, "build")
		s.finishJobLocked(rn, j, conclusion, "")
	}
	for _, j := range at.jobs {
		switch j.status {
		case "in_progress":
			s.finishJobLocked(rn, j, others, "")
		case "queued":
			j.status, j.conclusion, j.completed = "completed", "cancelled", s.now()
			s.jobEventLocked(rn, j, "completed")
		}
	}
	at.status, at.conclusion, at.updated = "completed", conclusion, s.now()
	s.runEventLocked(rn, "completed")
	s.notifyLocked()
}

// RerunFailed re-runs the failed jobs of a completed run as "Re-run failed jobs"
// does: a new attempt, queued, with the same id, number and created_at, and the
// jobs that failed or were cancelled queued again. It returns the attempt's number
// and panics if the run is not completed.
func (s *Server) RerunFailed(runID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.mustRunLocked(runID)
	if rn.latest().status != "completed" {
		panic(fmt.Sprintf("githubtest: RerunFailed: run %d is not completed", runID))
	}
	return s.rerunLocked(rn, rn.actor).number
}

func (s *Server) rerunLocked(rn *run, actor string) *attempt {
	now := s.now()
	prev := rn.latest()
	at := &attempt{number: prev.number + 1, status: "queued", started: now, updated: now,
		triggeringActor: actor, checkSuiteID: prev.checkSuiteID}
	rn.attempts = append(rn.attempts, at)
	s.reruns = append(s.reruns, rn.id)
	s.runEventLocked(rn, "requested")
	for _, j := range prev.jobs {
		if j.conclusion != "success" && j.conclusion != "skipped" && j.conclusion != "neutral" {
			nj := &job{id: s.newIDLocked("job"), attempt: at.number, name: j.name, status: "queued", created: now}
			at.jobs = append(at.jobs, nj)
			s.jobEventLocked(rn, nj, "queued")
		}
	}
	s.notifyLocked()
	s.autoPlayLocked(rn, at)
	return at
}

// RunJSON is the run as GET /repos/{owner}/{repo}/actions/runs/{id} shows it now.
func (s *Server) RunJSON(runID int64) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.mustRunLocked(runID)
	data, err := json.Marshal(s.runJSON(rn, rn.latest()))
	if err != nil {
		panic(err)
	}
	return data
}

type commitAuthor struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type headCommitJSON struct {
	ID        string       `json:"id"`
	TreeID    string       `json:"tree_id"`
	Message   string       `json:"message"`
	Timestamp string       `json:"timestamp"`
	Author    commitAuthor `json:"author"`
	Committer commitAuthor `json:"committer"`
}

type pullRequestJSON struct {
	ID     int64  `json:"id"`
	Number int    `json:"number"`
	URL    string `json:"url"`
}

type runJSON struct {
	ID                 int64             `json:"id"`
	Name               string            `json:"name"`
	NodeID             string            `json:"node_id"`
	HeadBranch         string            `json:"head_branch"`
	HeadSHA            string            `json:"head_sha"`
	Path               string            `json:"path"`
	DisplayTitle       string            `json:"display_title"`
	RunNumber          int               `json:"run_number"`
	Event              string            `json:"event"`
	Status             string            `json:"status"`
	Conclusion         *string           `json:"conclusion"`
	WorkflowID         int64             `json:"workflow_id"`
	CheckSuiteID       int64             `json:"check_suite_id"`
	CheckSuiteNodeID   string            `json:"check_suite_node_id"`
	URL                string            `json:"url"`
	HTMLURL            string            `json:"html_url"`
	PullRequests       []pullRequestJSON `json:"pull_requests"`
	CreatedAt          string            `json:"created_at"`
	UpdatedAt          string            `json:"updated_at"`
	Actor              userJSON          `json:"actor"`
	RunAttempt         int               `json:"run_attempt"`
	ReferencedWorkflow []any             `json:"referenced_workflows"`
	RunStartedAt       string            `json:"run_started_at"`
	TriggeringActor    userJSON          `json:"triggering_actor"`
	JobsURL            string            `json:"jobs_url"`
	LogsURL            string            `json:"logs_url"`
	CheckSuiteURL      string            `json:"check_suite_url"`
	ArtifactsURL       string            `json:"artifacts_url"`
	CancelURL          string            `json:"cancel_url"`
	RerunURL           string            `json:"rerun_url"`
	PreviousAttemptURL *string           `json:"previous_attempt_url"`
	WorkflowURL        string            `json:"workflow_url"`
	HeadCommit         headCommitJSON    `json:"head_commit"`
	Repository         repoJSON          `json:"repository"`
	HeadRepository     repoJSON          `json:"head_repository"`
}

// runJSON shows a run as of one attempt. Callers hold s.mu.
func (s *Server) runJSON(rn *run, at *attempt) runJSON {
	base := s.url + "/repos/" + rn.repo.full() + "/actions/runs/" + strconv.FormatInt(rn.id, 10)
	var concl *string
	if at.status == "completed" {
		c := at.conclusion
		concl = &c
	}
	var prev *string
	if at.number > 1 {
		p := base + "/attempts/" + strconv.Itoa(at.number-1)
		prev = &p
	}
	title := strings.SplitN(rn.message, "\n", 2)[0]
	if rn.event == "workflow_dispatch" {
		title = rn.wf.name
	}
	email := func(name string) string {
		return strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@users.noreply.github.com"
	}
	html := s.webBase() + "/" + rn.repo.full() + "/actions/runs/" + strconv.FormatInt(rn.id, 10)
	if at.number > 1 {
		html += "/attempts/" + strconv.Itoa(at.number)
	}
	repoJ, headJ := s.repoJSON(rn.repo), s.repoJSON(rn.repo)
	if rn.headRepo != "" {
		headJ = s.forkJSON(rn.headRepo)
	}
	name := rn.wf.name
	if rn.emptyName {
		name = ""
	}
	return runJSON{
		ID: rn.id, Name: name, NodeID: nodeID("WFR_", rn.id), HeadBranch: rn.branch,
		HeadSHA: rn.sha, Path: rn.wf.path, DisplayTitle: title, RunNumber: rn.number,
		Event: rn.event, Status: at.status, Conclusion: concl, WorkflowID: rn.wf.id,
		CheckSuiteID: at.checkSuiteID, CheckSuiteNodeID: nodeID("CS_", at.checkSuiteID),
		URL: base, HTMLURL: html, PullRequests: []pullRequestJSON{},
		CreatedAt: stamp(rn.created), UpdatedAt: stamp(at.updated), Actor: s.user(rn.actor),
		RunAttempt: at.number, ReferencedWorkflow: []any{}, RunStartedAt: stamp(at.started),
		TriggeringActor: s.user(at.triggeringActor), JobsURL: base + "/jobs", LogsURL: base + "/logs",
		CheckSuiteURL: s.url + "/repos/" + rn.repo.full() + "/check-suites/" + strconv.FormatInt(at.checkSuiteID, 10),
		ArtifactsURL:  base + "/artifacts", CancelURL: base + "/cancel", RerunURL: base + "/rerun",
		PreviousAttemptURL: prev,
		WorkflowURL:        s.url + "/repos/" + rn.repo.full() + "/actions/workflows/" + strconv.FormatInt(rn.wf.id, 10),
		HeadCommit: headCommitJSON{
			ID: rn.sha, TreeID: rn.sha, Message: rn.message, Timestamp: stamp(rn.created),
			Author:    commitAuthor{Name: rn.author, Email: email(rn.author)},
			Committer: commitAuthor{Name: "GitHub", Email: "noreply@github.com"},
		},
		Repository: repoJ, HeadRepository: headJ,
	}
}

type stepJSON struct {
	Name        string  `json:"name"`
	Status      string  `json:"status"`
	Conclusion  *string `json:"conclusion"`
	Number      int     `json:"number"`
	StartedAt   any     `json:"started_at"`
	CompletedAt any     `json:"completed_at"`
}

type jobJSON struct {
	ID              int64      `json:"id"`
	RunID           int64      `json:"run_id"`
	WorkflowName    string     `json:"workflow_name"`
	HeadBranch      string     `json:"head_branch"`
	RunURL          string     `json:"run_url"`
	RunAttempt      int        `json:"run_attempt"`
	NodeID          string     `json:"node_id"`
	HeadSHA         string     `json:"head_sha"`
	URL             string     `json:"url"`
	HTMLURL         string     `json:"html_url"`
	Status          string     `json:"status"`
	Conclusion      *string    `json:"conclusion"`
	CreatedAt       string     `json:"created_at"`
	StartedAt       string     `json:"started_at"`
	CompletedAt     any        `json:"completed_at"`
	Name            string     `json:"name"`
	Steps           []stepJSON `json:"steps"`
	CheckRunURL     string     `json:"check_run_url"`
	Labels          []string   `json:"labels"`
	RunnerID        *int64     `json:"runner_id"`
	RunnerName      *string    `json:"runner_name"`
	RunnerGroupID   *int64     `json:"runner_group_id"`
	RunnerGroupName *string    `json:"runner_group_name"`
}

func conclusionOrNil(status, conclusion string) *string {
	if status != "completed" {
		return nil
	}
	return &conclusion
}

// jobJSON shows a job. Callers hold s.mu.
func (s *Server) jobJSON(rn *run, j *job) jobJSON {
	runURL := s.url + "/repos/" + rn.repo.full() + "/actions/runs/" + strconv.FormatInt(rn.id, 10)
	started := j.started
	if started.IsZero() {
		started = j.created
	}
	out := jobJSON{
		ID: j.id, RunID: rn.id, WorkflowName: rn.wf.name, HeadBranch: rn.branch, RunURL: runURL,
		RunAttempt: j.attempt, NodeID: nodeID("CR_", j.id), HeadSHA: rn.sha,
		URL:     s.url + "/repos/" + rn.repo.full() + "/actions/jobs/" + strconv.FormatInt(j.id, 10),
		HTMLURL: s.webBase() + "/" + rn.repo.full() + "/actions/runs/" + strconv.FormatInt(rn.id, 10) + "/job/" + strconv.FormatInt(j.id, 10),
		Status:  j.status, Conclusion: conclusionOrNil(j.status, j.conclusion),
		CreatedAt: stamp(j.created), StartedAt: stamp(started), CompletedAt: stampOrNil(j.completed),
		Name: j.name, Steps: []stepJSON{},
		CheckRunURL: s.url + "/repos/" + rn.repo.full() + "/check-runs/" + strconv.FormatInt(j.id, 10),
		Labels:      []string{"ubuntu-latest"},
	}
	for _, st := range j.steps {
		out.Steps = append(out.Steps, stepJSON{Name: st.name, Status: st.status,
			Conclusion: conclusionOrNil(st.status, st.conclusion), Number: st.number,
			StartedAt: stampOrNil(st.started), CompletedAt: stampOrNil(st.completed)})
	}
	if j.runner != nil {
		id, name, gid, group := j.runner.id, j.runner.name, int64(1), "Default"
		out.RunnerID, out.RunnerName, out.RunnerGroupID, out.RunnerGroupName = &id, &name, &gid, &group
		out.Labels = j.runner.labels
	}
	return out
}
