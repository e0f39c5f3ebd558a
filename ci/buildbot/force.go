package buildbot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/herald-ci/herald/ci"
)

type scheduler struct {
	ci.ForceScheduler
	needEmail bool
}

func (p *Provider) schedulers(ctx context.Context) ([]scheduler, error) {
	fs, err := getList[apiForceScheduler](ctx, p.c, "forceschedulers", "forceschedulers")
	if err != nil {
		return nil, err
	}
	out := make([]scheduler, 0, len(fs))
	for _, f := range fs {
		fields, needEmail := forceFields(f.AllFields)
		builders, err := p.visibleNames(ctx, f.BuilderNames) // the connection's tags (tags.go)
		if err != nil {
			return nil, err
		}
		out = append(out, scheduler{
			ForceScheduler: ci.CleanForceScheduler(ci.ForceScheduler{
				Conn: p.cfg.Name, Name: f.Name, Label: f.Label, Builders: builders, Fields: fields,
			}),
			needEmail: needEmail,
		})
	}
	return out, nil
}

// ForceSchedulers lists the force schedulers with the fields a user may set.
func (p *Provider) ForceSchedulers(ctx context.Context) ([]ci.ForceScheduler, error) {
	ss, err := p.schedulers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ci.ForceScheduler, len(ss))
	for i, s := range ss {
		out[i] = s.ForceScheduler
	}
	return out, nil
}

// emailLike is how Buildbot's username field recognises an address (anywhere in the text).
var emailLike = regexp.MustCompile(`\S+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+`)

// ownerAddress makes herald's description of the forcing user acceptable to a username field
// that insists on "Name <address>"; the address names herald, since the chat user has none.
func ownerAddress(owner string) string {
	if emailLike.MatchString(owner) {
		return owner
	}
	return owner + " <herald@herald.invalid>"
}

// Force starts a build through a force scheduler: req.Scheduler, or the only one that offers
// req.Builder. Parameters are checked against the scheduler's fields first, so a chat user
// gets a plain answer instead of Buildbot's form errors.
func (p *Provider) Force(ctx context.Context, req ci.ForceRequest) (ci.ForceResult, error) {
	ss, err := p.schedulers(ctx)
	if err != nil {
		return ci.ForceResult{}, err
	}
	var s *scheduler
	for i := range ss {
		if req.Scheduler != "" && ss[i].Name != req.Scheduler {
			continue
		}
		for _, b := range ss[i].Builders {
			if b == req.Builder {
				s = &ss[i]
				break
			}
		}
		if s != nil {
			break
		}
	}
	if s == nil {
		if req.Scheduler != "" {
			return ci.ForceResult{}, ci.Userf(fmt.Errorf("buildbot: force %s/%s: %w", req.Scheduler, req.Builder, ci.ErrNotFound),
				fmt.Sprintf("force scheduler %s does not offer builder %s", req.Scheduler, req.Builder))
		}
		return ci.ForceResult{}, ci.Userf(fmt.Errorf("buildbot: force %s: %w", req.Builder, ci.ErrNotFound),
			fmt.Sprintf("no force scheduler offers builder %s", req.Builder))
	}
	builderID, err := p.builderID(ctx, req.Builder)
	if err != nil {
		return ci.ForceResult{}, err
	}
	params, err := forceParams(s.ForceScheduler, req)
	if err != nil {
		return ci.ForceResult{}, err
	}
	params["builderid"] = builderID
	if req.Owner != "" {
		params["username"] = req.Owner
		if s.needEmail {
			params["username"] = ownerAddress(req.Owner)
		}
	}
	raw, err := p.c.rpc(ctx, "forceschedulers/"+s.Name, "force", params)
	var re *rpcError
	if errors.As(err, &re) {
		return ci.ForceResult{}, ci.Userf(err, fmt.Sprintf("Buildbot refused to start %s: %s", req.Builder, re.Message))
	}
	if err != nil {
		return ci.ForceResult{}, err
	}
	res, err := parseForceResult(raw)
	if err != nil {
		return ci.ForceResult{}, fmt.Errorf("buildbot: force %s: %w", req.Builder, err)
	}
	return res, nil
}

// forceParams checks req's parameters against the scheduler's fields and fills defaults.
func forceParams(s ci.ForceScheduler, req ci.ForceRequest) (map[string]any, error) {
	known := map[string]ci.ForceField{}
	params := map[string]any{}
	for _, f := range s.Fields {
		known[f.Name] = f
	}
	for k := range req.Params {
		if _, ok := known[k]; !ok {
			return nil, ci.Userf(fmt.Errorf("buildbot: force: unknown parameter %q", k),
				fmt.Sprintf("%s has no parameter %s", s.Name, k))
		}
	}
	for _, f := range s.Fields {
		v, given := req.Params[f.Name]
		if f.Name == "reason" && !given && req.Reason != "" {
			v, given = req.Reason, true
		}
		if !given || v == "" {
			if f.Required && f.Default == "" {
				return nil, ci.Userf(fmt.Errorf("buildbot: force: %q missing", f.Name),
					fmt.Sprintf("parameter %s is required", f.Name))
			}
			v = f.Default
		}
		switch f.Type {
		case ci.FieldBool:
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil {
				return nil, ci.Userf(err, fmt.Sprintf("parameter %s must be true or false", f.Name))
			}
			params[f.Name] = b
		case ci.FieldInt:
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, ci.Userf(err, fmt.Sprintf("parameter %s must be a whole number", f.Name))
			}
			params[f.Name] = n
		case ci.FieldChoice:
			ok := len(f.Choices) == 0
			for _, c := range f.Choices {
				ok = ok || c == v
			}
			if !ok {
				return nil, ci.Userf(fmt.Errorf("buildbot: force: %q=%q", f.Name, v),
					fmt.Sprintf("parameter %s must be one of %s", f.Name, strings.Join(f.Choices, ", ")))
			}
			params[f.Name] = v
		default:
			params[f.Name] = v
		}
	}
	return params, nil
}

// Stop cancels a running build.
func (p *Provider) Stop(ctx context.Context, buildID, reason string) error {
	n, err := strconv.Atoi(buildID)
	if err != nil || n <= 0 {
		return fmt.Errorf("buildbot: stop build %q: %w", buildID, ci.ErrNotFound)
	}
	if reason == "" {
		reason = "stopped from herald"
	}
	_, err = p.c.rpc(ctx, fmt.Sprintf("builds/%d", n), "stop", map[string]any{"reason": reason, "results": 6})
	var re *rpcError
	if errors.As(err, &re) {
		return ci.Userf(err, fmt.Sprintf("Buildbot refused to stop build %s: %s", buildID, re.Message))
	}
	if err != nil {
		return fmt.Errorf("buildbot: stop build %d: %w", n, err)
	}
	return nil
}
