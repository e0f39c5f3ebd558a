package jenkins

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// /force is buildWithParameters (build for a job without parameters) with the job's
// parameter definitions as the form; /stop is a build's stop; the rebuild button queues the
// job again with the parameters of the build pressed. Jenkins answers a build request with
// the queue item it made (Location: <root>/queue/item/N/); the build that item becomes
// carries queueId N, which is what herald follows (queueRequestID), and the item is read
// for a moment to name the build in the audit.

var (
	_ ci.Forcer    = (*Provider)(nil)
	_ ci.Stopper   = (*Provider)(nil)
	_ ci.Rebuilder = (*Provider)(nil)
)

// QueueFollowWait is how long Force and Rebuild read the queue item for the build it
// became, to name it in the audit (Config.QueueWait changes it); a build still waiting for an executor then is named by
// its queue item, and followed all the same.
const QueueFollowWait = 2 * time.Second

// queuePollEvery is the pause between two reads of a queue item.
const queuePollEvery = 200 * time.Millisecond

type (
	propertyJSON struct {
		Class                string         `json:"_class"`
		ParameterDefinitions []paramDefJSON `json:"parameterDefinitions"`
	}
	paramDefJSON struct {
		Class                 string `json:"_class"`
		Name                  string `json:"name"`
		Type                  string `json:"type"` // StringParameterDefinition, ...
		Description           string `json:"description"`
		DefaultParameterValue *struct {
			Value jsonValue `json:"value"`
		} `json:"defaultParameterValue"`
		Choices []string `json:"choices"`
	}
)

// propertyTree is the tree of a job's parameter definitions.
const propertyTree = "property[parameterDefinitions[name,type,description,defaultParameterValue[value],choices]]"

// params are a job's parameter definitions.
func (j jobJSON) params() []paramDefJSON {
	var out []paramDefJSON
	for _, p := range j.Property {
		out = append(out, p.ParameterDefinitions...)
	}
	return out
}

// isPassword says whether a definition holds a secret: its value is never shown nor sent
// by herald, so Jenkins applies its default.
func isPassword(d paramDefJSON) bool { return d.Type == "PasswordParameterDefinition" }

// forceFields is the form of a job's parameters: string and text as text, boolean, choice
// (its first choice is Jenkins' default). Password parameters and kinds herald cannot fill
// (file, run, credentials, ...) are not offered: Jenkins applies their defaults.
func forceFields(defs []paramDefJSON) []ci.ForceField {
	var out []ci.ForceField
	for _, d := range defs {
		if d.Name == "" {
			continue
		}
		f := ci.ForceField{Name: d.Name, Label: d.Name}
		if d.DefaultParameterValue != nil {
			f.Default = d.DefaultParameterValue.Value.String()
		}
		switch d.Type {
		case "StringParameterDefinition", "TextParameterDefinition":
			f.Type = ci.FieldText
		case "BooleanParameterDefinition":
			f.Type = ci.FieldBool
			if f.Default == "" {
				f.Default = "false"
			}
		case "ChoiceParameterDefinition":
			f.Type, f.Choices = ci.FieldChoice, d.Choices
			if f.Default == "" && len(d.Choices) > 0 {
				f.Default = d.Choices[0]
			}
		default:
			continue
		}
		out = append(out, f)
	}
	return out
}

// buildable says whether a job can be built now (it is not disabled).
func buildable(j jobJSON) bool { return j.Buildable == nil || *j.Buildable }

// ForceSchedulers lists one scheduler per followed job that can be built, named like the
// job, with its parameters as the form (one request).
func (p *Provider) ForceSchedulers(ctx context.Context) ([]ci.ForceScheduler, error) {
	jobs, err := p.readJobs(ctx, 0, propertyTree)
	if err != nil {
		return nil, err
	}
	var out []ci.ForceScheduler
	for _, j := range jobs {
		if !buildable(j.JSON) {
			continue
		}
		out = append(out, ci.CleanForceScheduler(ci.ForceScheduler{
			Conn: p.cfg.Name, Name: j.FullName, Label: j.FullName, Builders: []string{j.FullName},
			Fields: forceFields(j.JSON.params()),
		}))
	}
	return out, nil
}

// readJob reads a job's own fields and parameter definitions.
func (p *Provider) readJob(ctx context.Context, name string) (jobJSON, error) {
	if !p.follows(name) {
		return jobJSON{}, p.noJob(name)
	}
	var j jobJSON
	err := p.c.getJSON(ctx, jobPath(name)+"api/json", url.Values{"tree": {"name,url,color,buildable," + propertyTree}}, &j)
	if err = p.apiError("read job "+name, err); errors.Is(err, ci.ErrNotFound) {
		return jobJSON{}, p.noJob(name)
	}
	return j, err
}

// Force queues a build of the job req.Builder with the values given, checked against the
// job's parameter definitions first so a chat user gets a plain answer. Jenkins records
// herald's user as who started it: req.Owner has no place there.
func (p *Provider) Force(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
	if req.Scheduler != "" && req.Scheduler != req.Builder {
		return ci.ForceResult{}, p.noJob(req.Scheduler)
	}
	j, err := p.readJob(ctx, req.Builder)
	if err != nil {
		return ci.ForceResult{}, err
	}
	if !buildable(j) {
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("jenkins: %s: force %s: disabled", p.cfg.Name, req.Builder),
			fmt.Sprintf("job %s on %s is disabled", req.Builder, p.cfg.Name))
	}
	defs := j.params()
	form, err := forceForm(req.Builder, forceFields(defs), req.Params)
	if err != nil {
		return ci.ForceResult{}, err
	}
	return p.queue(ctx, req.Builder, len(defs) > 0, form, "start "+req.Builder)
}

// forceForm checks a force form's values against its fields: every field is sent, with its
// default when left empty, so the build shows what it ran with.
func forceForm(job string, fields []ci.ForceField, params map[string]string) (url.Values, error) {
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
	}
	for k := range params {
		if !known[k] {
			return nil, ci.Userf(fmt.Errorf("jenkins: force: unknown parameter %q", k),
				fmt.Sprintf("%s has no parameter %s", job, k))
		}
	}
	form := url.Values{}
	for _, f := range fields {
		v, given := params[f.Name]
		if !given || v == "" {
			v = f.Default
		}
		switch f.Type {
		case ci.FieldBool:
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil {
				return nil, ci.Userf(err, fmt.Sprintf("parameter %s must be true or false", f.Name))
			}
			v = strconv.FormatBool(b)
		case ci.FieldChoice:
			ok := false
			for _, c := range f.Choices {
				ok = ok || c == v
			}
			if !ok {
				return nil, ci.Userf(fmt.Errorf("jenkins: force: %q=%q", f.Name, v),
					fmt.Sprintf("parameter %s must be one of %s", f.Name, strings.Join(f.Choices, ", ")))
			}
		}
		form.Set(f.Name, v)
	}
	return form, nil
}

// queue asks Jenkins to build a job (buildWithParameters when it has parameters) and
// follows the queue item it answers with.
func (p *Provider) queue(ctx context.Context, name string, parameterized bool, form url.Values, action string) (ci.ForceResult, error) {
	endpoint := "build"
	if parameterized {
		endpoint = "buildWithParameters"
	}
	res, err := p.c.post(ctx, jobPath(name)+endpoint, form)
	if err != nil {
		return ci.ForceResult{}, p.refusal("queue a build of "+name, action, err)
	}
	if res.Status != http.StatusCreated {
		// Jenkins answers 201 with the queue item, and redirects to the job's page when
		// nothing was scheduled (a plugin refused it).
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("jenkins: %s: queue a build of %s: answered %d, not 201", p.cfg.Name, name, res.Status),
			fmt.Sprintf("Jenkins did not queue the build of %s", name))
	}
	id := queueItemID(res.Location)
	if id <= 0 {
		// An older Jenkins, or a proxy that dropped the header: nothing to follow.
		return ci.ForceResult{Ref: "build of " + name + " queued"}, nil
	}
	out := ci.ForceResult{Ref: fmt.Sprintf("queue item %d of %s", id, name), RequestIDs: []string{queueRequestID(id)}}
	number, cancelled, err := p.followQueue(ctx, id)
	switch {
	case err != nil:
		p.log.Debug().Err(err).Int64("queue_id", id).Msg("jenkins: queue item not read; followed by its id")
	case cancelled:
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("jenkins: %s: queue item %d cancelled", p.cfg.Name, id),
			fmt.Sprintf("Jenkins cancelled the queued build of %s", name))
	case number > 0:
		out.Ref = fmt.Sprintf("build %s (queue item %d)", BuildID(name, number), id)
	}
	return out, nil
}

// queueItemID reads the item's number from a Location like <root>/queue/item/57/.
func queueItemID(loc string) int64 {
	u, err := url.Parse(loc)
	if err != nil {
		return 0
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-3] != "queue" || parts[len(parts)-2] != "item" {
		return 0
	}
	id, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// followQueue reads a queue item until it has become a build, is cancelled, or
// Config.QueueWait has passed (number 0).
func (p *Provider) followQueue(ctx context.Context, id int64) (number int, cancelled bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.QueueWait)
	defer cancel()
	for {
		var item struct {
			Cancelled  bool `json:"cancelled"`
			Executable *struct {
				Number int `json:"number"`
			} `json:"executable"`
		}
		if err := p.c.getJSON(ctx, fmt.Sprintf("queue/item/%d/api/json", id), nil, &item); err != nil {
			if ctx.Err() != nil {
				return 0, false, nil
			}
			return 0, false, err
		}
		if item.Cancelled {
			return 0, true, nil
		}
		if item.Executable != nil && item.Executable.Number > 0 {
			return item.Executable.Number, false, nil
		}
		t := time.NewTimer(queuePollEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, false, nil
		case <-t.C:
		}
	}
}

// refusal is a 4xx Jenkins answered to a command (a parameter value it does not take) as a
// user error with Jenkins' reason; anything else as apiError has it.
func (p *Provider) refusal(what, action string, err error) error {
	var he *httpError
	if errors.As(err, &he) && (he.Status == 400 || he.Status == 409 || he.Status == 422) {
		return ci.Userf(fmt.Errorf("jenkins: %s: %s: %w", p.cfg.Name, what, err), fmt.Sprintf("Jenkins refused to %s: %s", action, he.Reason))
	}
	return p.apiError(what, err)
}

// buildState reads a build's state and parameters.
func (p *Provider) buildState(ctx context.Context, id string) (string, int, buildJSON, error) {
	name, number, err := parseBuildID(id)
	if err != nil {
		return "", 0, buildJSON{}, err
	}
	if !p.follows(name) {
		return "", 0, buildJSON{}, fmt.Errorf("jenkins: %s: build %s: job not followed: %w", p.cfg.Name, ci.CleanText(id), ci.ErrNotFound)
	}
	var b buildJSON
	if err := p.c.getJSON(ctx, buildPath(name, number)+"api/json", url.Values{"tree": {"number,building,result,actions[parameters[name,value]]"}}, &b); err != nil {
		return "", 0, buildJSON{}, p.apiError("read build "+id, err)
	}
	return name, number, b, nil
}

// Stop aborts a running build. Jenkins has no place for a reason.
func (p *Provider) Stop(ctx context.Context, buildID, _ string) error {
	name, number, b, err := p.buildState(ctx, buildID)
	if err != nil {
		return err
	}
	if !b.Building && b.Result != "" {
		return ci.Userf(fmt.Errorf("jenkins: %s: stop %s: finished", p.cfg.Name, buildID),
			fmt.Sprintf("build %s has already finished", BuildID(name, number)))
	}
	if _, err := p.c.post(ctx, buildPath(name, number)+"stop", nil); err != nil {
		return p.refusal("stop build "+buildID, "stop "+BuildID(name, number), err)
	}
	return nil
}

// Rebuild queues the job of a finished build again with the build's parameters (those the
// job still defines; a password parameter gets its default, as Jenkins does not show its
// value). owner has no place in Jenkins' records.
func (p *Provider) Rebuild(ctx context.Context, buildID, _ string) (ci.ForceResult, error) {
	name, number, b, err := p.buildState(ctx, buildID)
	if err != nil {
		return ci.ForceResult{}, err
	}
	if b.Building || b.Result == "" {
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("jenkins: %s: rebuild %s: running", p.cfg.Name, buildID),
			fmt.Sprintf("build %s is still running", BuildID(name, number)))
	}
	j, err := p.readJob(ctx, name)
	if err != nil {
		return ci.ForceResult{}, err
	}
	if !buildable(j) {
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("jenkins: %s: rebuild %s: disabled", p.cfg.Name, buildID),
			fmt.Sprintf("job %s on %s is disabled", name, p.cfg.Name))
	}
	defs := j.params()
	keep := map[string]bool{}
	for _, d := range defs {
		keep[d.Name] = !isPassword(d)
	}
	form := url.Values{}
	for _, a := range b.Actions {
		for _, pv := range a.Parameters {
			if v, ok := paramString(pv.Value); ok && keep[pv.Name] {
				form.Set(pv.Name, v)
			}
		}
	}
	res, err := p.queue(ctx, name, len(defs) > 0, form, "rebuild "+BuildID(name, number))
	if err != nil {
		return ci.ForceResult{}, err
	}
	res.Ref = "rebuild of " + BuildID(name, number) + ": " + res.Ref
	return res, nil
}

// RebuildLabel is what Rebuild is called on Jenkins (the Rebuilder plugin's word): the job runs again with the same parameters (ci.Rebuilder).
func (p *Provider) RebuildLabel() string { return "Rebuild" }
