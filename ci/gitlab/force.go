package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// /force creates a pipeline on a branch with variables, /stop cancels a pipeline, the retry
// button retries a pipeline's failed and canceled jobs. Each project has one force
// scheduler, named like its builder.

var (
	_ ci.Forcer    = (*Provider)(nil)
	_ ci.Stopper   = (*Provider)(nil)
	_ ci.Rebuilder = (*Provider)(nil)
)

// The force form's fields.
const (
	refField       = "ref"
	variablesField = "variables"
)

// variableKey is what GitLab takes as a CI/CD variable's key.
var variableKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// ForceSchedulers lists one scheduler per project: the branch (a choice of the first
// hundred branches, the default branch first) and variables, KEY=VALUE a line. The
// project's own CI/CD variables are not shown: they apply to every pipeline anyway, and
// some of them are secrets.
func (p *Provider) ForceSchedulers(ctx context.Context) ([]ci.ForceScheduler, error) {
	var out []ci.ForceScheduler
	for _, pr := range p.projects {
		s, err := p.scheduler(ctx, pr)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (p *Provider) scheduler(ctx context.Context, project string) (ci.ForceScheduler, error) {
	proj, _, err := p.gl.Projects.GetProject(project, nil, gl.WithContext(ctx))
	if err != nil {
		return ci.ForceScheduler{}, p.projectError(project, err)
	}
	bs, _, err := p.gl.Branches.ListBranches(project, &gl.ListBranchesOptions{ListOptions: gl.ListOptions{PerPage: perPage}}, gl.WithContext(ctx))
	if err != nil {
		return ci.ForceScheduler{}, p.apiError("list branches of "+project, err)
	}
	def := proj.DefaultBranch
	var branches []string
	if def != "" {
		branches = append(branches, def)
	}
	for _, b := range bs {
		if b.Name != def && b.Name != "" {
			branches = append(branches, b.Name)
		}
	}
	name := p.builderName(project)
	return ci.CleanForceScheduler(ci.ForceScheduler{
		Conn: p.cfg.Name, Name: name, Label: name, Builders: []string{name},
		Fields: []ci.ForceField{
			{Name: refField, Label: "branch", Type: ci.FieldChoice, Default: def, Required: true, Choices: branches},
			{Name: variablesField, Label: "variables (KEY=VALUE, one a line)", Type: ci.FieldText},
		},
	}), nil
}

// Force creates a pipeline on the chosen branch with the variables given; the result names
// the pipeline, whose first run the chat follows.
func (p *Provider) Force(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
	project, ok := p.projectOf(req.Builder)
	if !ok || (req.Scheduler != "" && !strings.EqualFold(req.Scheduler, req.Builder)) {
		return ci.ForceResult{}, p.noBuilder(req.Builder)
	}
	for k := range req.Params {
		if k != refField && k != variablesField {
			return ci.ForceResult{}, ci.Userf(fmt.Errorf("gitlab: force: unknown parameter %q", k),
				fmt.Sprintf("%s has no field %s (it takes ref and variables)", req.Builder, k))
		}
	}
	ref := strings.TrimSpace(req.Params[refField])
	if ref == "" {
		proj, _, err := p.gl.Projects.GetProject(project, nil, gl.WithContext(ctx))
		if err != nil {
			return ci.ForceResult{}, p.projectError(project, err)
		}
		ref = proj.DefaultBranch
	}
	if ref == "" {
		return ci.ForceResult{}, ci.Userf(errors.New("gitlab: force: no ref"), "the branch is required")
	}
	vars, err := parseVariables(req.Params[variablesField])
	if err != nil {
		return ci.ForceResult{}, err
	}
	opts := &gl.CreatePipelineOptions{Ref: gl.Ptr(ref)}
	if len(vars) > 0 {
		opts.Variables = &vars
	}
	pl, _, err := p.gl.Pipelines.CreatePipeline(project, opts, gl.WithContext(ctx))
	if err != nil {
		return ci.ForceResult{}, p.refusal("create pipeline of "+project, "start "+req.Builder, err)
	}
	p.pipelines.remember(pl.ID, project)
	return ci.ForceResult{Ref: fmt.Sprintf("pipeline %d", pl.ID), RequestIDs: []string{BuildID(pl.ID, 1)}}, nil
}

// parseVariables reads the variables field: KEY=VALUE a line, blank lines skipped. The
// messages name the line, never its value (it may be a secret).
func parseVariables(text string) ([]*gl.PipelineVariableOptions, error) {
	var out []*gl.PipelineVariableOptions
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok || k == "":
			return nil, ci.Userf(fmt.Errorf("gitlab: force: variables line %d", i+1),
				fmt.Sprintf("variables: line %d is not KEY=VALUE", i+1))
		case !variableKey.MatchString(k):
			return nil, ci.Userf(fmt.Errorf("gitlab: force: variables line %d: bad key", i+1),
				fmt.Sprintf("variables: line %d: a key has letters, digits and _ only", i+1))
		case seen[k]:
			return nil, ci.Userf(fmt.Errorf("gitlab: force: variable %s twice", k), fmt.Sprintf("variables: %s is given twice", k))
		}
		seen[k] = true
		out = append(out, &gl.PipelineVariableOptions{Key: gl.Ptr(k), Value: gl.Ptr(v), VariableType: gl.Ptr(gl.EnvVariableType)})
	}
	return out, nil
}

// refusal is a 4xx GitLab answered to a command (a branch that does not exist, a pipeline
// that cannot be retried) as a user error with GitLab's message; anything else as apiError
// has it.
func (p *Provider) refusal(what, action string, err error) error {
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch code := er.Response.StatusCode; code {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusUnprocessableEntity:
			msg := message(er)
			if msg == "" {
				msg = http.StatusText(code)
			}
			return ci.Userf(fmt.Errorf("gitlab: %s: %s: %w", p.cfg.Name, what, err), fmt.Sprintf("GitLab refused to %s: %s", action, msg))
		}
	}
	return p.apiError(what, err)
}

// Stop cancels a running pipeline. GitLab has no place for a reason.
func (p *Provider) Stop(ctx context.Context, buildID, _ string) error {
	pipelineID, _, err := parseBuildID(buildID)
	if err != nil {
		return fmt.Errorf("gitlab: %s: stop %q: %w", p.cfg.Name, ci.CleanText(buildID), err)
	}
	project, b, err := p.findPipeline(ctx, pipelineID)
	if err != nil {
		return err
	}
	if b.Complete {
		return ci.Userf(fmt.Errorf("gitlab: %s: stop pipeline %d: %s", p.cfg.Name, pipelineID, b.StateText),
			fmt.Sprintf("pipeline #%d has already finished", b.Number))
	}
	if _, _, err := p.gl.Pipelines.CancelPipelineBuild(project, pipelineID, gl.WithContext(ctx)); err != nil {
		return p.refusal(fmt.Sprintf("cancel pipeline %d", pipelineID), fmt.Sprintf("cancel pipeline #%d", b.Number), err)
	}
	return nil
}

// Rebuild retries the failed and canceled jobs of a pipeline whose run failed or was
// canceled; the result names the run that follows. GitLab records the token's owner as who
// retried it: owner has no place there.
func (p *Provider) Rebuild(ctx context.Context, buildID, _ string) (ci.ForceResult, error) {
	pipelineID, _, err := parseBuildID(buildID)
	if err != nil {
		return ci.ForceResult{}, fmt.Errorf("gitlab: %s: retry %q: %w", p.cfg.Name, ci.CleanText(buildID), err)
	}
	project, b, err := p.findPipeline(ctx, pipelineID)
	if err != nil {
		return ci.ForceResult{}, err
	}
	switch {
	case !b.Complete:
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("gitlab: %s: retry pipeline %d: %s", p.cfg.Name, pipelineID, b.StateText),
			fmt.Sprintf("pipeline %s is still running", b.NumberText()))
	case b.Result != ci.ResultFailure && b.Result != ci.ResultCancelled:
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("gitlab: %s: retry pipeline %d: %s", p.cfg.Name, pipelineID, b.Result),
			fmt.Sprintf("pipeline %s did not fail (%s): there are no failed jobs to retry", b.NumberText(), b.StateText))
	}
	if _, _, err := p.gl.Pipelines.RetryPipelineBuild(project, pipelineID, gl.WithContext(ctx)); err != nil {
		return ci.ForceResult{}, p.refusal(fmt.Sprintf("retry pipeline %d", pipelineID), fmt.Sprintf("retry pipeline #%d", b.Number), err)
	}
	// GitLab answers 201 even when it retried nothing (no failed job it may retry): the
	// pipeline read again tells. The next run, with new jobs or without (see runNumbers),
	// is numbered next.
	after, err := p.pipelineBuild(ctx, project, pipelineID)
	if err == nil && after.Complete && after.Attempt == b.Attempt && after.FinishedAt.Equal(b.FinishedAt) {
		return ci.ForceResult{Ref: fmt.Sprintf("pipeline %d: GitLab retried no job", pipelineID)}, nil
	}
	next := b.Attempt + 1
	return ci.ForceResult{
		Ref:        fmt.Sprintf("pipeline %d run %d", pipelineID, next),
		RequestIDs: []string{BuildID(pipelineID, next)},
	}, nil
}

// RebuildLabel is what GitLab calls Rebuild on a pipeline's page: it retries the failed jobs (ci.Rebuilder).
func (p *Provider) RebuildLabel() string { return "Retry" }
