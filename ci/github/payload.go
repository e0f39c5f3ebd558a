package github

import (
	"errors"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

// Results maps a workflow run's conclusion to herald's result (issue 9's table). neutral is
// a check that chose not to judge, so nothing broke. action_required is a run that waits
// for a person (a first-time contributor's approval, say): GitHub reports it completed, but
// once approved the same run runs on, so herald takes it as not finished (see finished);
// its entry here serves only Result's callers.
var results = map[string]ci.Result{
	"success":         ci.ResultSuccess,
	"neutral":         ci.ResultSuccess,
	"failure":         ci.ResultFailure,
	"timed_out":       ci.ResultFailure,
	"startup_failure": ci.ResultFailure,
	"cancelled":       ci.ResultCancelled,
	"skipped":         ci.ResultSkipped,
	"stale":           ci.ResultSkipped,
	"action_required": ci.ResultWarnings,
}

// Result is herald's result for a run's conclusion. A conclusion GitHub adds later is an
// exception, so the build still ends and someone looks at it, rather than a 400 that
// loses the delivery.
func Result(conclusion string) ci.Result {
	if r, ok := results[conclusion]; ok {
		return r
	}
	return ci.ResultException
}

// BuildID is herald's id of one attempt of a run. A re-run keeps the run's id and number
// and raises run_attempt; each attempt is its own build, so the attempt is in the id and
// ci.Event.Key keeps a re-run's events apart from the first attempt's.
func BuildID(runID int64, attempt int) string {
	if attempt < 1 {
		attempt = 1
	}
	return strconv.FormatInt(runID, 10) + "/" + strconv.Itoa(attempt)
}

// awaitingApproval says whether a run waits for someone to approve it: GitHub marks it
// completed with conclusion action_required (in its requested delivery already), and the
// same run, same attempt, runs on once approved. herald takes such a run as neither started
// nor finished: a delivery of it is ignored and a poll skips it, until it runs.
func awaitingApproval(run *gh.WorkflowRun) bool {
	return run.GetStatus() == "completed" && run.GetConclusion() == "action_required"
}

// finished says whether a run is over: its status is completed, whatever the delivery's
// action (a run that fails at startup is completed in its requested delivery), unless it
// waits for approval.
func finished(run *gh.WorkflowRun) bool {
	return run.GetStatus() == "completed" && !awaitingApproval(run)
}

// build maps a run to a ci.Build, cleaned; a finished run (see finished) needs its
// conclusion. A run awaiting approval is mapped as not finished, its state action_required.
// repo is the run's repository as GitHub names it; workflowName is the workflow's name,
// which stands for a run's name GitHub left empty (its own example payload has one).
func (p *Parser) build(run *gh.WorkflowRun, repo *gh.Repository, workflowName string) (ci.Build, error) {
	finished := finished(run)
	name := run.GetName()
	if name == "" {
		name = workflowName
	}
	var missing []string
	if run.GetID() == 0 {
		missing = append(missing, "workflow_run.id")
	}
	if run.GetRunNumber() == 0 {
		missing = append(missing, "workflow_run.run_number")
	}
	if name == "" {
		missing = append(missing, "workflow_run.name")
	}
	if finished && run.GetConclusion() == "" {
		missing = append(missing, "workflow_run.conclusion")
	}
	if len(missing) > 0 {
		return ci.Build{}, errors.New("missing " + strings.Join(missing, ", "))
	}
	builder := name
	if p.prefixed {
		builder = repo.GetName() + "/" + builder
	}
	id := BuildID(run.GetID(), run.GetRunAttempt())
	b := ci.Build{
		Conn: p.conn,
		ID:   id,
		// A forced build and a re-run are followed by the id Force and Rebuild return: the
		// attempt's build id, which GitHub gives before the run reports anything.
		RequestID: id,
		Number:    run.GetRunNumber(),
		Builder:   builder,
		BuilderID: workflowID(run),
		Branch:    branch(run, repo),
		Revision:  run.GetHeadSHA(),
		Owner:     owner(run),
		Reason:    reason(run),
		StartedAt: run.GetRunStartedAt().Time,
		URL:       run.GetHTMLURL(),
		StateText: run.GetStatus(),
	}
	if c := run.HeadCommit; c != nil && c.Author != nil {
		b.Author = c.Author.GetName()
		if b.Author == "" {
			b.Author = c.Author.GetLogin()
		}
	}
	if awaitingApproval(run) {
		b.StateText = "action_required"
	}
	if finished {
		b.Complete = true
		b.FinishedAt = run.GetUpdatedAt().Time
		b.Result = Result(run.GetConclusion())
		b.StateText = run.GetConclusion()
	}
	b.Attempt = max(run.GetRunAttempt(), 1)
	return ci.CleanBuild(b, p.clock()), nil
}

// branch is the run's head branch; a run of a pull request from a fork (its head repository
// is not the repository) has the fork's branch, named "<fork owner>:<branch>" as GitHub
// names it on a pull request, so that a contributor's main is not the repository's main.
func branch(run *gh.WorkflowRun, repo *gh.Repository) string {
	b := run.GetHeadBranch()
	head := run.GetHeadRepository().GetFullName()
	if b == "" || head == "" || repo.GetFullName() == "" || strings.EqualFold(head, repo.GetFullName()) {
		return b
	}
	owner := run.GetHeadRepository().GetOwner().GetLogin()
	if owner == "" {
		owner, _, _ = strings.Cut(head, "/")
	}
	return owner + ":" + b
}

func workflowID(run *gh.WorkflowRun) string {
	if id := run.GetWorkflowID(); id != 0 {
		return strconv.FormatInt(id, 10)
	}
	return ""
}

// owner is who started the run: the triggering actor is the one who pressed re-run, the
// actor the one who first caused it.
func owner(run *gh.WorkflowRun) string {
	if l := run.GetTriggeringActor().GetLogin(); l != "" {
		return l
	}
	return run.GetActor().GetLogin()
}

// reason is the head commit's subject: ci.Build has no message field, and the subject is
// what a chat line has room for. A run without a head commit has its display title.
func reason(run *gh.WorkflowRun) string {
	msg := run.GetHeadCommit().GetMessage()
	if msg == "" {
		msg = run.GetDisplayTitle()
	}
	subject, _, _ := strings.Cut(msg, "\n")
	return strings.TrimSpace(subject)
}
