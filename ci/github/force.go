package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

// /force is a workflow_dispatch, /stop cancels a run, the re-run button is "Re-run failed
// jobs". A workflow is offered to /force when its file, at the repository's default branch,
// declares workflow_dispatch (workflowfile.go); its force scheduler is named like the builder
// and offers that builder alone. A dispatch on another branch is checked against the file as
// that branch holds it, which GitHub runs.

var (
	_ ci.Forcer    = (*Provider)(nil)
	_ ci.Stopper   = (*Provider)(nil)
	_ ci.Rebuilder = (*Provider)(nil)
)

// dispatchable is a workflow that can be started by hand, with its form.
type dispatchable struct {
	sched      ci.ForceScheduler
	repo       repoRef
	workflowID int64
	path       string // the workflow file
	inputs     []dispatchInput
	def        string   // the default branch, whose file gave inputs
	branches   []string // the default branch first
}

// dispatchables reads, for every repository, its default branch, its branches (the first
// hundred; the default branch first) and the files of its active workflows.
func (p *Provider) dispatchables(ctx context.Context) ([]dispatchable, error) {
	var out []dispatchable
	for _, r := range p.repos {
		repo, _, err := p.gh.Repositories.Get(ctx, r.Owner, r.Name)
		if err != nil {
			return nil, p.apiError("get repository "+r.full(), err)
		}
		c := p.learnCanonical(r, repo)
		def := repo.GetDefaultBranch()
		bs, _, err := p.gh.Repositories.ListBranches(ctx, r.Owner, r.Name, &gh.BranchListOptions{ListOptions: gh.ListOptions{PerPage: perPage}})
		if err != nil {
			return nil, p.apiError("list branches of "+r.full(), err)
		}
		branches := []string{def}
		for _, b := range bs {
			if n := b.GetName(); n != def && n != "" {
				branches = append(branches, n)
			}
		}
		ws, err := p.listWorkflows(ctx, r)
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			if w.GetState() != "active" || w.GetName() == "" || !strings.HasPrefix(w.GetPath(), ".github/") {
				continue // disabled workflows cannot be dispatched; dynamic ones have no file
			}
			inputs, ok, err := p.readDispatch(ctx, r, w.GetPath(), def)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			name := p.builderName(c, w.GetName())
			out = append(out, dispatchable{
				sched: ci.CleanForceScheduler(ci.ForceScheduler{
					Conn: p.cfg.Name, Name: name, Label: name, Builders: []string{name},
					Fields: forceFields(inputs, branches, def),
				}),
				repo: r, workflowID: w.GetID(), path: w.GetPath(), inputs: inputs, def: def, branches: branches,
			})
		}
	}
	return out, nil
}

// readDispatch reads a workflow file at ref and says whether it declares workflow_dispatch.
// A file that is gone from ref, or that is no workflow file, is not dispatchable: logged,
// not an error for every workflow.
func (p *Provider) readDispatch(ctx context.Context, r repoRef, path, ref string) ([]dispatchInput, bool, error) {
	f, _, _, err := p.gh.Repositories.GetContents(ctx, r.Owner, r.Name, path, &gh.RepositoryContentGetOptions{Ref: ref})
	err = p.apiError(fmt.Sprintf("read %s of %s", path, r.full()), err)
	if errors.Is(err, ci.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if f == nil {
		return nil, false, nil // a directory
	}
	src, err := f.GetContent()
	if err != nil {
		p.log.Warn().Err(err).Str("repo", r.full()).Str("path", path).Msg("github: workflow file unreadable; not offered to /force")
		return nil, false, nil
	}
	inputs, ok, err := parseDispatch([]byte(src))
	if err != nil {
		p.log.Warn().Err(err).Str("repo", r.full()).Str("path", path).Msg("github: workflow file not understood; not offered to /force")
		return nil, false, nil
	}
	return inputs, ok, nil
}

// ForceSchedulers lists one scheduler per workflow that declares workflow_dispatch.
func (p *Provider) ForceSchedulers(ctx context.Context) ([]ci.ForceScheduler, error) {
	ds, err := p.dispatchables(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ci.ForceScheduler, len(ds))
	for i, d := range ds {
		out[i] = d.sched
	}
	return out, nil
}

// Force dispatches a workflow on the chosen branch with the inputs given, checked against
// the file's declarations first so that a chat user gets a plain answer. GitHub names the run
// it started (return_run_details), which the result carries as the build to follow; an older
// GitHub Enterprise Server that answers 204 names none, and the force is followed by nothing.
func (p *Provider) Force(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
	ds, err := p.dispatchables(ctx)
	if err != nil {
		return ci.ForceResult{}, err
	}
	var d *dispatchable
	for i := range ds {
		if (req.Scheduler == "" || ds[i].sched.Name == req.Scheduler) && ds[i].sched.Builders[0] == req.Builder {
			d = &ds[i]
			break
		}
	}
	if d == nil {
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("github: %s: force %s: %w", p.cfg.Name, req.Builder, ci.ErrNotFound),
			fmt.Sprintf("workflow %s on %s cannot be started by hand (its file declares no workflow_dispatch)", req.Builder, p.cfg.Name))
	}
	sched, err := p.schedulerAt(ctx, d, req.Params[refField])
	if err != nil {
		return ci.ForceResult{}, err
	}
	ref, inputs, err := dispatchParams(sched, req.Params)
	if err != nil {
		return ci.ForceResult{}, err
	}
	details, _, err := p.gh.Actions.CreateWorkflowDispatchEventByID(ctx, d.repo.Owner, d.repo.Name, d.workflowID,
		gh.CreateWorkflowDispatchEventRequest{Ref: ref, Inputs: inputs, ReturnRunDetails: gh.Ptr(true)})
	if err != nil {
		return ci.ForceResult{}, p.refusal("dispatch "+req.Builder, "start "+req.Builder, err)
	}
	if id := details.GetWorkflowRunID(); id > 0 {
		p.rememberRun(id, d.repo)
		p.track(d.repo, id, 1)
		return ci.ForceResult{Ref: "run " + strconv.FormatInt(id, 10), RequestIDs: []string{BuildID(id, 1)}}, nil
	}
	return ci.ForceResult{Ref: "workflow_dispatch of " + req.Builder + " on " + ref}, nil
}

// schedulerAt is a dispatchable's form as the workflow file on ref declares it: GitHub runs
// the file at the ref dispatched, and its inputs may differ from the default branch's, which
// the form offered. ref "" is the default branch. One request (a 304 when read before).
func (p *Provider) schedulerAt(ctx context.Context, d *dispatchable, ref string) (ci.ForceScheduler, error) {
	if ref == "" || ref == d.def {
		return d.sched, nil
	}
	inputs, ok, err := p.readDispatch(ctx, d.repo, d.path, ref)
	if err != nil {
		return ci.ForceScheduler{}, err
	}
	if !ok {
		// No such ref, no such file there, or no workflow_dispatch in it: GitHub's answer
		// to the dispatch says which.
		return d.sched, nil
	}
	s := d.sched
	s.Fields = ci.CleanForceScheduler(ci.ForceScheduler{Fields: forceFields(inputs, d.branches, d.def)}).Fields
	return s, nil
}

// dispatchParams checks a force form's values against its fields and gives them as the
// dispatch API takes them: every value a string ("true", "2.5"), as GitHub's examples send
// them and as older API descriptions type them (a JSON boolean or number is refused by
// some). An input left empty without a default is not sent.
func dispatchParams(s ci.ForceScheduler, params map[string]string) (string, map[string]any, error) {
	known := map[string]bool{}
	for _, f := range s.Fields {
		known[f.Name] = true
	}
	for k := range params {
		if !known[k] {
			return "", nil, ci.Userf(fmt.Errorf("github: force: unknown parameter %q", k),
				fmt.Sprintf("%s has no input %s", s.Name, k))
		}
	}
	var ref string
	inputs := map[string]any{}
	for _, f := range s.Fields {
		v, given := params[f.Name]
		if !given || v == "" {
			v = f.Default
		}
		if v == "" {
			if f.Required {
				return "", nil, ci.Userf(fmt.Errorf("github: force: %q missing", f.Name),
					fmt.Sprintf("%s is required", fieldName(f)))
			}
			continue
		}
		if f.Name == refField {
			ref = v
			continue
		}
		switch f.Type {
		case ci.FieldBool:
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil {
				return "", nil, ci.Userf(err, fmt.Sprintf("%s must be true or false", fieldName(f)))
			}
			inputs[f.Name] = strconv.FormatBool(b)
		case ci.FieldInt:
			v = strings.TrimSpace(v)
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return "", nil, ci.Userf(err, fmt.Sprintf("%s must be a number", fieldName(f)))
			}
			inputs[f.Name] = v
		case ci.FieldChoice:
			ok := false
			for _, c := range f.Choices {
				ok = ok || c == v
			}
			if !ok {
				return "", nil, ci.Userf(fmt.Errorf("github: force: %q=%q", f.Name, v),
					fmt.Sprintf("%s must be one of %s", fieldName(f), strings.Join(f.Choices, ", ")))
			}
			inputs[f.Name] = v
		default:
			inputs[f.Name] = v
		}
	}
	if len(inputs) == 0 {
		inputs = nil
	}
	return ref, inputs, nil
}

// fieldName is how a message names a field: the ref as "branch", an input by its name.
func fieldName(f ci.ForceField) string {
	if f.Name == refField {
		return "the branch"
	}
	return "input " + f.Name
}

// refusal is a 4xx GitHub answered to a command (a ref that does not exist, an input the
// workflow does not take, a run too old to re-run) as a user error with GitHub's message;
// anything else as apiError has it.
func (p *Provider) refusal(what, action string, err error) error {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch er.Response.StatusCode {
		case http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity:
			msg := ci.CleanText(er.Message)
			if msg == "" {
				msg = http.StatusText(er.Response.StatusCode)
			}
			return ci.Userf(fmt.Errorf("github: %s: %s: %w", p.cfg.Name, what, err), fmt.Sprintf("GitHub refused to %s: %s", action, msg))
		}
	}
	return p.apiError(what, err)
}

// Stop cancels a run. GitHub has no place for a reason.
func (p *Provider) Stop(ctx context.Context, buildID, _ string) error {
	runID, _, err := parseBuildID(buildID)
	if err != nil {
		return err
	}
	r, run, err := p.getRun(ctx, runID, 0)
	if err != nil {
		return err
	}
	if run.GetStatus() == "completed" {
		return ci.Userf(fmt.Errorf("github: %s: stop run %d: completed", p.cfg.Name, runID),
			fmt.Sprintf("run %d has already finished", run.GetRunNumber()))
	}
	_, err = p.gh.Actions.CancelWorkflowRunByID(ctx, r.Owner, r.Name, runID)
	var accepted *gh.AcceptedError
	switch {
	case err == nil, errors.As(err, &accepted): // GitHub answers 202: the run is being cancelled
		return nil
	case statusOf(err) == http.StatusConflict:
		return ci.Userf(fmt.Errorf("github: %s: stop run %d: %w", p.cfg.Name, runID, err),
			fmt.Sprintf("run %d has already finished", run.GetRunNumber()))
	}
	return p.refusal(fmt.Sprintf("cancel run %d", runID), fmt.Sprintf("cancel run %d", run.GetRunNumber()), err)
}

// Rebuild re-runs the failed jobs of a run whose newest attempt failed; the result names
// the attempt that will run, read from the run after GitHub accepted the re-run. GitHub records who re-ran it as the token's owner: owner has
// no place there.
func (p *Provider) Rebuild(ctx context.Context, buildID, _ string) (ci.ForceResult, error) {
	runID, _, err := parseBuildID(buildID)
	if err != nil {
		return ci.ForceResult{}, err
	}
	r, run, err := p.getRun(ctx, runID, 0)
	if err != nil {
		return ci.ForceResult{}, err
	}
	attempt := max(run.GetRunAttempt(), 1)
	switch {
	case run.GetStatus() != "completed":
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("github: %s: rebuild run %d: %s", p.cfg.Name, runID, run.GetStatus()),
			fmt.Sprintf("run %d is still running (attempt %d)", run.GetRunNumber(), attempt))
	case Result(run.GetConclusion()) != ci.ResultFailure && Result(run.GetConclusion()) != ci.ResultException:
		// An exception is a conclusion herald does not know: GitHub decides whether it has
		// failed jobs to re-run.
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("github: %s: rebuild run %d: %s", p.cfg.Name, runID, run.GetConclusion()),
			fmt.Sprintf("run %d did not fail (attempt %d: %s): there are no failed jobs to re-run", run.GetRunNumber(), attempt, ci.CleanText(run.GetConclusion())))
	}
	if _, err := p.gh.Actions.RerunFailedJobsByID(ctx, r.Owner, r.Name, runID); err != nil {
		return ci.ForceResult{}, p.refusal(fmt.Sprintf("re-run run %d", runID), fmt.Sprintf("re-run run %d", run.GetRunNumber()), err)
	}
	// The 201 names no attempt, and someone may have re-run the run between herald's read
	// and its request: the run as it is now has the attempt to follow.
	next := attempt + 1
	if _, now, err := p.getRun(ctx, runID, 0); err == nil && now.GetRunAttempt() > attempt {
		next = now.GetRunAttempt()
	} else if err != nil {
		p.log.Warn().Err(err).Int64("run_id", runID).Msg("github: the re-run's attempt could not be read; following the next one")
	}
	p.track(r, runID, next)
	return ci.ForceResult{
		Ref:        fmt.Sprintf("run %d attempt %d", runID, next),
		RequestIDs: []string{BuildID(runID, next)},
	}, nil
}
