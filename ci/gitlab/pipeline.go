package gitlab

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// One mapping from a pipeline to a ci.Build serves the API and the Pipeline Hook: both are
// first read into a run, which holds what herald uses of either.

// run is one run of a pipeline as herald reads it.
type run struct {
	project    string // the project's full path
	id, iid    int64
	status     string
	ref, sha   string
	webURL     string
	user       string // who triggered the pipeline (username)
	author     string // the commit's author
	title      string // the commit's subject
	createdAt  time.Time
	startedAt  time.Time // of this run: a retry's is when it was retried
	finishedAt time.Time
	jobs       []job // the latest run of each job, in the pipeline's order
	attempt    int   // 1 for the first run, 2 after one retry, ...
}

// job is one job of a run.
type job struct {
	id           int64
	name, stage  string
	status       string
	allowFailure bool
}

// The pipeline statuses GitLab documents, by what herald makes of them. A status GitLab adds
// later is taken as waiting: neither started nor finished, so it is not reported until the
// pipeline reaches one herald knows.
var (
	runningStatuses  = map[string]bool{"created": true, "pending": true, "preparing": true, "running": true, "canceling": true, "waiting_for_callback": true}
	finishedStatuses = map[string]ci.Result{"success": ci.ResultSuccess, "failed": ci.ResultFailure, "canceled": ci.ResultCancelled, "skipped": ci.ResultSkipped}
)

// childSource is the source of a child pipeline, which its parent's trigger job starts. A
// child is not followed as a build of its own: it is part of its parent, whose trigger job
// waits for it (strategy: depend) or not, as the project chose.
const childSource = "parent_pipeline"

// Waiting says whether a pipeline status is neither started nor finished for herald: a
// pipeline waiting for a person (manual), for its time (scheduled) or for a resource group
// (waiting_for_resource), or a status herald does not know.
func Waiting(status string) bool {
	_, done := finishedStatuses[status]
	return !done && !runningStatuses[status]
}

// Result is herald's result for a finished pipeline: its status, and warnings for a success
// in which a job that is allowed to fail failed.
func Result(status string, jobs []job) ci.Result {
	r, ok := finishedStatuses[status]
	if !ok {
		return ci.ResultNone
	}
	if r == ci.ResultSuccess && allowedFailure(jobs) != "" {
		return ci.ResultWarnings
	}
	return r
}

// BuildID is herald's id of one run of a pipeline: "<pipeline id>/<attempt>". A retried
// pipeline keeps its id and number and runs again, and its second finish is news; with the
// attempt in the id, ci.Event.Key keeps the runs' events apart.
func BuildID(pipelineID int64, attempt int) string {
	return strconv.FormatInt(pipelineID, 10) + "/" + strconv.Itoa(max(attempt, 1))
}

// parseBuildID splits a BuildID; a bare pipeline id is its first attempt.
func parseBuildID(id string) (pipelineID int64, attempt int, err error) {
	pid, att, ok := strings.Cut(id, "/")
	if !ok {
		att = "1"
	}
	pipelineID, err1 := strconv.ParseInt(pid, 10, 64)
	attempt, err2 := strconv.Atoi(att)
	if err1 != nil || err2 != nil || pipelineID <= 0 || attempt <= 0 {
		return 0, 0, errors.Join(errBadID, ci.ErrNotFound)
	}
	return pipelineID, attempt, nil
}

var errBadID = errors.New("gitlab: a build id is <pipeline id>/<attempt>")

// stepName is how a job is named as a build's step: "stage / job".
func stepName(j job) string {
	if j.stage == "" {
		return j.name
	}
	return j.stage + " / " + j.name
}

// currentStep is the first job running.
func currentStep(jobs []job) string {
	for _, j := range jobs {
		if j.status == "running" {
			return stepName(j)
		}
	}
	return ""
}

// failedStep is the first job that failed and was not allowed to.
func failedStep(jobs []job) string {
	for _, j := range jobs {
		if j.status == "failed" && !j.allowFailure {
			return stepName(j)
		}
	}
	return ""
}

// allowedFailure is the first job that failed and was allowed to.
func allowedFailure(jobs []job) string {
	for _, j := range jobs {
		if j.status == "failed" && j.allowFailure {
			return stepName(j)
		}
	}
	return ""
}

// mapper turns runs into builds for one connection.
type mapper struct {
	conn     string
	prefixed bool // builders are full paths when several projects share the connection
	clock    func() time.Time
}

// builderName is what users call a project: its last path segment, or its full path when
// the connection follows several projects.
func builderName(project string, prefixed bool) string {
	if prefixed {
		return project
	}
	return project[strings.LastIndex(project, "/")+1:]
}

// build maps a run to a ci.Build, cleaned.
func (m mapper) build(r run) (ci.Build, error) {
	var missing []string
	if r.id <= 0 {
		missing = append(missing, "id")
	}
	if r.iid <= 0 {
		missing = append(missing, "iid")
	}
	if r.status == "" {
		missing = append(missing, "status")
	}
	if r.project == "" {
		missing = append(missing, "project path")
	}
	if len(missing) > 0 {
		return ci.Build{}, errors.New("gitlab: pipeline without " + strings.Join(missing, ", "))
	}
	id := BuildID(r.id, r.attempt)
	b := ci.Build{
		Conn: m.conn,
		ID:   id,
		// A forced pipeline and a retry are followed by the id Force and Rebuild return.
		RequestID: id,
		Number:    int(r.iid),
		Attempt:   max(r.attempt, 1),
		Builder:   builderName(r.project, m.prefixed),
		BuilderID: r.project,
		Branch:    r.ref,
		Revision:  r.sha,
		Owner:     r.user,
		Author:    r.author,
		Reason:    r.title,
		StartedAt: r.startedAt,
		URL:       r.webURL,
		StateText: r.status,
	}
	if b.StartedAt.IsZero() && !Waiting(r.status) {
		b.StartedAt = r.createdAt
	}
	if res := Result(r.status, r.jobs); res != ci.ResultNone {
		b.Complete = true
		b.Result = res
		b.FinishedAt = r.finishedAt
		if b.FinishedAt.IsZero() {
			b.FinishedAt = m.clock()
		}
		switch res {
		case ci.ResultFailure:
			b.FailedStep = failedStep(r.jobs)
		case ci.ResultWarnings:
			b.FailedStep = allowedFailure(r.jobs)
			b.StateText = "success with warnings"
		}
	} else {
		b.CurrentStep = currentStep(r.jobs)
	}
	return ci.CleanBuild(b, m.clock()), nil
}

// subject is a commit message's first line.
func subject(msg string) string {
	s, _, _ := strings.Cut(msg, "\n")
	return strings.TrimSpace(s)
}

// runs is what the jobs of a pipeline, the retried ones too (the jobs API with
// include_retried), tell of its runs. GitLab keeps a retried job and makes a new one under
// its name, so the n-th job of a name ran in the n-th run; the pipeline is at the most runs
// any name had. A job retried automatically (the retry: keyword) makes a new job too: the
// jobs count it as a run, and tries says so; runNumbers takes it back into the run it was
// made in when that run was seen running.
type runs struct {
	latest  []job             // the latest job of each name, in the order the names first appear (jobs are made stage by stage)
	attempt int               // the run the pipeline is at
	runOf   map[int64]int     // job id → the run that made it
	started map[int]time.Time // run (from 2) → when its first new job was made
	all     []*gl.Job         // every job, by id
	// tries says the newest run's jobs were each made as the job of its name before
	// failed (see autoRetried): the retry: keyword's tries, it may be, not a retry asked for.
	tries bool
}

// autoRetryWindow is how soon after a job failed a job of its name made may be the retry:
// keyword's try: GitLab makes that as it records the failure.
const autoRetryWindow = 5 * time.Second

// autoRetried says whether j, made after prev of its name, may be the retry: keyword's try.
func autoRetried(prev, j *gl.Job) bool {
	fin, made := deref(prev.FinishedAt), deref(j.CreatedAt)
	return prev.Status == "failed" && !fin.IsZero() && !made.IsZero() && !made.Before(fin) && made.Sub(fin) <= autoRetryWindow
}

func readRuns(all []*gl.Job) runs {
	sorted := append([]*gl.Job(nil), all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	r := runs{attempt: 1, runOf: map[int64]int{}, started: map[int]time.Time{}, all: sorted}
	index := map[string]int{}
	count := map[string]int{}
	before := map[string]*gl.Job{}
	tries := map[int]bool{} // run → each of its new jobs may be a try of retry:
	for _, j := range sorted {
		count[j.Name]++
		n := count[j.Name]
		if prev := before[j.Name]; prev != nil {
			t, ok := tries[n]
			tries[n] = (t || !ok) && autoRetried(prev, j)
		}
		before[j.Name] = j
		r.attempt = max(r.attempt, n)
		r.runOf[j.ID] = n
		if t := deref(j.CreatedAt); n > 1 && !t.IsZero() {
			if s, ok := r.started[n]; !ok || t.Before(s) {
				r.started[n] = t
			}
		}
		v := job{id: j.ID, name: j.Name, stage: j.Stage, status: j.Status, allowFailure: j.AllowFailure}
		if i, ok := index[j.Name]; ok {
			r.latest[i] = v
		} else {
			index[j.Name] = len(r.latest)
			r.latest = append(r.latest, v)
		}
	}
	r.tries = r.attempt > 1 && tries[r.attempt]
	return r
}

// runWith is the run that jobs (the latest jobs when a hook was sent) belong to: the
// newest run that made one of them; the pipeline's current run when none is named. known
// is false when the API does not list one of them yet (a replica behind the primary that
// sent the hook): the run cannot be told then.
func (r runs) runWith(jobIDs []int64) (n int, known bool) {
	for _, id := range jobIDs {
		m, ok := r.runOf[id]
		if !ok {
			return 0, false
		}
		n = max(n, m)
	}
	if n == 0 {
		return r.attempt, true
	}
	return n, true
}

// earlier is run n of a pipeline that has run again since (n < r.attempt), as it ended: the
// latest job of each name then, its status read from them (a job that failed and was not
// allowed to fails the run, else a canceled job cancels it), its end the last end of those
// jobs before the next run began. GitLab keeps no record of a run's own status; a job that
// was skipped and ran in a later run is reused in place by the retry, so a job that started
// after run n+1 began counts as not run in run n.
func (r runs) earlier(cur run, n int) run {
	next := r.started[n+1]
	latest := map[string]*gl.Job{}
	var order []string
	for _, j := range r.all {
		if r.runOf[j.ID] > n {
			continue
		}
		if _, ok := latest[j.Name]; !ok {
			order = append(order, j.Name)
		}
		latest[j.Name] = j
	}
	out := cur
	out.attempt, out.jobs, out.finishedAt = n, nil, time.Time{}
	if n > 1 {
		out.startedAt = r.started[n]
	}
	failed, canceled := false, false
	for _, name := range order {
		j := latest[name]
		status := j.Status
		if st := deref(j.StartedAt); !next.IsZero() && st.After(next) {
			status = "skipped"
		}
		if fin := deref(j.FinishedAt); status != "skipped" && !fin.IsZero() && (next.IsZero() || !fin.After(next)) && fin.After(out.finishedAt) {
			out.finishedAt = fin
		}
		failed = failed || (status == "failed" && !j.AllowFailure)
		canceled = canceled || status == "canceled"
		out.jobs = append(out.jobs, job{id: j.ID, name: j.Name, stage: j.Stage, status: status, allowFailure: j.AllowFailure})
	}
	switch {
	case failed:
		out.status = "failed"
	case canceled:
		out.status = "canceled"
	default:
		out.status = "success"
	}
	if out.finishedAt.IsZero() {
		out.finishedAt = next
	}
	return out
}

// A merge request pipeline is named by its merge request, "!<iid>" as GitLab writes it, as
// its branch on both paths: the API names its ref refs/merge-requests/<iid>/head (/merge for
// merged results, /train for a merge train), its Pipeline Hook the source branch, and a
// branch pipeline of that source branch is another series of builds.

// mergeRequestBranch is the branch of merge request iid's pipelines.
func mergeRequestBranch(iid int64) string { return "!" + strconv.FormatInt(iid, 10) }

// apiBranch is the branch of a pipeline the API shows on ref.
func apiBranch(ref string) string {
	rest, ok := strings.CutPrefix(ref, "refs/merge-requests/")
	if !ok {
		return ref
	}
	iid, kind, _ := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(iid, 10, 64)
	if err != nil || n <= 0 || (kind != "head" && kind != "merge" && kind != "train") {
		return ref
	}
	return mergeRequestBranch(n)
}

// apiRun reads a pipeline of the API and all its jobs (see attempts) into a run.
func apiRun(project string, pl *gl.Pipeline, jobs []*gl.Job) (run, runs) {
	r := run{
		project: project, id: pl.ID, iid: pl.IID, status: pl.Status, ref: apiBranch(pl.Ref), sha: pl.SHA,
		webURL: pl.WebURL, createdAt: deref(pl.CreatedAt), startedAt: deref(pl.StartedAt), finishedAt: deref(pl.FinishedAt),
	}
	if pl.User != nil {
		r.user = pl.User.Username
	}
	rs := readRuns(jobs)
	r.jobs, r.attempt = rs.latest, rs.attempt
	if start := rs.started[r.attempt]; !start.IsZero() {
		r.startedAt = start
	}
	for _, j := range jobs {
		if j.Commit != nil && (j.Commit.AuthorName != "" || j.Commit.Title != "" || j.Commit.Message != "") {
			r.author = j.Commit.AuthorName
			r.title = j.Commit.Title
			if r.title == "" {
				r.title = subject(j.Commit.Message)
			}
			break
		}
	}
	return r, rs
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
