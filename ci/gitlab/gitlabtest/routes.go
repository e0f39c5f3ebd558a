package gitlabtest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// route answers an authorized request by its unescaped path segments after /api/v4/.
func (s *Server) route(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) == 1 && segs[0] == "runners" && r.Method == http.MethodGet {
		s.listRunners(w, r)
		return
	}
	if len(segs) < 2 || segs[0] != "projects" {
		s.answer(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		return
	}
	s.mu.Lock()
	pr := s.projectLocked(segs[1])
	s.mu.Unlock()
	if pr == nil {
		s.notFound(w, "Project")
		return
	}
	rest := segs[2:]
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case len(rest) == 0 && get:
		s.mu.Lock()
		v := s.renderProjectLocked(pr)
		s.mu.Unlock()
		s.answer(w, http.StatusOK, v)
	case len(rest) == 2 && rest[0] == "repository" && rest[1] == "branches" && get:
		s.listBranches(w, r, pr)
	case len(rest) == 1 && rest[0] == "pipelines" && get:
		s.listPipelines(w, r, pr)
	case len(rest) == 1 && rest[0] == "pipeline" && post:
		s.createPipeline(w, r, pr)
	case len(rest) >= 2 && rest[0] == "pipelines":
		id, err := strconv.ParseInt(rest[1], 10, 64)
		s.mu.Lock()
		pl := s.pipelineLocked(id)
		s.mu.Unlock()
		if err != nil || pl == nil || pl.project != pr {
			s.notFound(w, "")
			return
		}
		switch {
		case len(rest) == 2 && get:
			s.mu.Lock()
			v := s.renderPipelineLocked(pl)
			s.mu.Unlock()
			s.answer(w, http.StatusOK, v)
		case len(rest) == 3 && rest[2] == "jobs" && get:
			s.listJobs(w, r, pl, false)
		case len(rest) == 3 && rest[2] == "bridges" && get:
			s.listJobs(w, r, pl, true)
		case len(rest) == 3 && rest[2] == "cancel" && post:
			s.mu.Lock()
			s.cancelLocked(pl)
			v := s.renderPipelineLocked(pl)
			s.mu.Unlock()
			s.answer(w, http.StatusOK, v)
		case len(rest) == 3 && rest[2] == "retry" && post:
			s.mu.Lock()
			s.retryLocked(pl, s.user)
			v := s.renderPipelineLocked(pl)
			s.mu.Unlock()
			s.answer(w, http.StatusCreated, v)
		default:
			s.answer(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		}
	default:
		s.answer(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	}
}

// projectLocked finds a project by its numeric id or its full path.
func (s *Server) projectLocked(id string) *project {
	for _, p := range s.projects {
		if strconv.FormatInt(p.id, 10) == id || strings.EqualFold(p.path, id) {
			return p
		}
	}
	return nil
}

func (s *Server) pipelineLocked(id int64) *pipeline {
	for _, p := range s.pipelines {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (s *Server) listBranches(w http.ResponseWriter, r *http.Request, pr *project) {
	s.mu.Lock()
	names := append([]string(nil), pr.branches...)
	commit := pr.commit
	s.mu.Unlock()
	sort.Strings(names) // GitLab lists branches by name
	s.list(w, r, len(names), func(i int) any {
		return apiBranch{
			Name: names[i], Default: names[i] == pr.defaultBranch, CanPush: true,
			WebURL: s.url + "/" + pr.path + "/-/tree/" + names[i],
			Commit: s.renderCommit(commit),
		}
	})
}

// listPipelines filters by scope, status, ref, sha, source, username, updated_after and
// updated_before, and orders by order_by (id, status, ref, updated_at, user_id) and sort.
func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request, pr *project) {
	q := r.URL.Query()
	var after, before time.Time
	for key, t := range map[string]*time.Time{"updated_after": &after, "updated_before": &before} {
		if v := q.Get(key); v != "" {
			parsed, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				s.answer(w, http.StatusBadRequest, map[string]string{"error": key + " is invalid"})
				return
			}
			*t = parsed
		}
	}
	orderBy := q.Get("order_by")
	switch orderBy {
	case "":
		orderBy = "id"
	case "id", "status", "ref", "updated_at", "user_id":
	default:
		s.answer(w, http.StatusBadRequest, map[string]string{"error": "order_by does not have a valid value"})
		return
	}
	desc := true
	switch q.Get("sort") {
	case "", "desc":
	case "asc":
		desc = false
	default:
		s.answer(w, http.StatusBadRequest, map[string]string{"error": "sort does not have a valid value"})
		return
	}
	scope := q.Get("scope")
	switch scope {
	case "", "running", "pending", "finished", "branches", "tags":
	default:
		s.answer(w, http.StatusBadRequest, map[string]string{"error": "scope does not have a valid value"})
		return
	}
	s.mu.Lock()
	var pls []*pipeline
	for _, p := range s.pipelines {
		if p.project != pr {
			continue
		}
		switch scope {
		case "running", "pending":
			if p.status != scope {
				continue
			}
		case "finished":
			if !finished(p.status) {
				continue
			}
		case "tags":
			continue // the fake's pipelines run on branches
		}
		if v := q.Get("status"); v != "" && p.status != v {
			continue
		}
		if v := q.Get("ref"); v != "" && p.ref != v {
			continue
		}
		if v := q.Get("sha"); v != "" && p.sha != v {
			continue
		}
		if v := q.Get("source"); (v != "" && p.source != v) || (v == "" && p.source == "parent_pipeline") {
			continue // child pipelines are listed only when asked for (GitLab 17.0 on)
		}
		if v := q.Get("username"); v != "" && p.user.Username != v {
			continue
		}
		if !after.IsZero() && !p.updatedAt.After(after) {
			continue
		}
		if !before.IsZero() && !p.updatedAt.Before(before) {
			continue
		}
		pls = append(pls, p)
	}
	sort.SliceStable(pls, func(i, j int) bool {
		a, b := pls[i], pls[j]
		less := a.id < b.id
		switch orderBy {
		case "status":
			if a.status != b.status {
				less = a.status < b.status
			}
		case "ref":
			if a.ref != b.ref {
				less = a.ref < b.ref
			}
		case "updated_at":
			if !a.updatedAt.Equal(b.updatedAt) {
				less = a.updatedAt.Before(b.updatedAt)
			}
		case "user_id":
			if a.user.ID != b.user.ID {
				less = a.user.ID < b.user.ID
			}
		}
		if desc {
			return !less
		}
		return less
	})
	items := make([]apiPipelineInfo, len(pls))
	for i, p := range pls {
		items[i] = s.renderInfoLocked(p)
	}
	s.mu.Unlock()
	s.list(w, r, len(items), func(i int) any { return items[i] })
}

// listJobs lists a pipeline's jobs, the latest of each name unless include_retried, with
// scope[] filtering by status.
// listJobs lists a pipeline's jobs (/jobs), or its trigger jobs (/bridges, which has no
// include_retried: the latest alone).
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request, pl *pipeline, bridges bool) {
	q := r.URL.Query()
	retried := q.Get("include_retried") == "true" && !bridges
	scopes := map[string]bool{}
	for _, v := range append(q["scope[]"], q["scope"]...) {
		scopes[v] = true
	}
	s.mu.Lock()
	var items []apiJob
	for i := len(pl.jobs) - 1; i >= 0; i-- { // newest first
		j := pl.jobs[i]
		if j.spec.Trigger != bridges || (j.retried && !retried) || (len(scopes) > 0 && !scopes[j.status]) {
			continue
		}
		items = append(items, s.renderJobLocked(pl, j))
	}
	s.mu.Unlock()
	s.list(w, r, len(items), func(i int) any { return items[i] })
}

func (s *Server) listRunners(w http.ResponseWriter, r *http.Request) {
	// The runners the user owns: those of projects where it is Maintainer; instance
	// runners are not among them.
	var rs []Runner
	s.mu.Lock()
	for _, x := range s.runners {
		if !x.Shared && (s.opts.Role == "" || s.opts.Role == "maintainer") {
			rs = append(rs, x)
		}
	}
	s.mu.Unlock()
	s.list(w, r, len(rs), func(i int) any {
		x := rs[i]
		typ := "project_type"
		if x.Shared {
			typ = "instance_type"
		}
		return apiRunner{
			ID: x.ID, Description: x.Description, Active: !x.Paused, Paused: x.Paused, IsShared: x.Shared,
			RunnerType: typ, Online: x.Status == "online", Status: x.Status,
		}
	})
}

// createBody is POST /projects/:id/pipeline's body: the ref and the variables.
type createBody struct {
	Ref       string `json:"ref"`
	Variables []struct {
		Key          string `json:"key"`
		Value        string `json:"value"`
		VariableType string `json:"variable_type"`
	} `json:"variables"`
}

func (s *Server) createPipeline(w http.ResponseWriter, r *http.Request, pr *project) {
	var body createBody
	if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			s.answer(w, http.StatusBadRequest, map[string]string{"error": "the body is not JSON"})
			return
		}
	}
	if body.Ref == "" {
		body.Ref = r.URL.Query().Get("ref")
	}
	if body.Ref == "" {
		s.answer(w, http.StatusBadRequest, map[string]string{"error": "ref is missing"})
		return
	}
	vars := map[string]string{}
	for _, v := range body.Variables {
		if v.Key == "" {
			s.answer(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"base": {"Variables key can't be blank"}}})
			return
		}
		vars[v.Key] = v.Value
	}
	s.mu.Lock()
	known := false
	for _, b := range pr.branches {
		known = known || b == body.Ref
	}
	if !known {
		s.mu.Unlock()
		s.answer(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"base": {"Reference not found"}}})
		return
	}
	pl := s.createLocked(pr, body.Ref, PipelineOptions{Source: "api", User: s.user, Variables: vars})
	v := s.renderPipelineLocked(pl)
	s.mu.Unlock()
	s.answer(w, http.StatusCreated, v)
}
