package githubtest

import (
	"net/http"
	"sort"
	"strconv"
)

// runFromPath resolves {owner}/{repo} and {run_id} or answers 404.
func (s *Server) runFromPath(w http.ResponseWriter, r *http.Request) (*run, bool) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return nil, false
	}
	id, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	s.mu.Lock()
	rn := s.runs[id]
	s.mu.Unlock()
	if err != nil || rn == nil || rn.repo != rp {
		s.notFound(w, r)
		return nil, false
	}
	return rn, true
}

// listRuns is GET .../actions/runs and GET .../actions/workflows/{id}/runs: newest
// first, filtered as documented, paginated.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return
	}
	var wf *workflow
	if r.PathValue("workflow") != "" {
		if wf, ok = s.workflowFromPath(w, r); !ok {
			return
		}
	}
	f, err := parseRunFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, err.Error(), "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository")
		return
	}
	pg, _ := s.page(w, r)
	s.mu.Lock()
	var match []*run
	for _, rn := range s.runOrder {
		if rn.repo == rp && (wf == nil || rn.wf == wf) && f.match(rn) {
			match = append(match, rn)
		}
	}
	sort.SliceStable(match, func(i, j int) bool {
		if !match[i].created.Equal(match[j].created) {
			return match[i].created.After(match[j].created)
		}
		return match[i].id > match[j].id
	})
	from, to := pg.bounds(len(match))
	out := make([]runJSON, 0, to-from)
	for _, rn := range match[from:to] {
		out = append(out, s.runJSON(rn, rn.latest()))
	}
	s.mu.Unlock()
	pg.link(w, r, len(match))
	s.ok(w, r, map[string]any{"total_count": len(match), "workflow_runs": out})
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	rn, ok := s.runFromPath(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	v := s.runJSON(rn, rn.latest())
	s.mu.Unlock()
	s.ok(w, r, v)
}

// attemptFromPath resolves {attempt} of a run or answers 404.
func (s *Server) attemptFromPath(w http.ResponseWriter, r *http.Request, rn *run) (*attempt, bool) {
	n, err := strconv.Atoi(r.PathValue("attempt"))
	s.mu.Lock()
	count := len(rn.attempts)
	s.mu.Unlock()
	if err != nil || n < 1 || n > count {
		s.notFound(w, r)
		return nil, false
	}
	s.mu.Lock()
	at := rn.attempts[n-1]
	s.mu.Unlock()
	return at, true
}

func (s *Server) getAttempt(w http.ResponseWriter, r *http.Request) {
	rn, ok := s.runFromPath(w, r)
	if !ok {
		return
	}
	at, ok := s.attemptFromPath(w, r, rn)
	if !ok {
		return
	}
	s.mu.Lock()
	v := s.runJSON(rn, at)
	s.mu.Unlock()
	s.ok(w, r, v)
}

// listJobs is GET .../runs/{id}/jobs: filter=latest (default) shows each job's most
// recent attempt, filter=all every attempt's jobs.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	rn, ok := s.runFromPath(w, r)
	if !ok {
		return
	}
	filter := r.URL.Query().Get("filter")
	if filter != "" && filter != "latest" && filter != "all" {
		s.fail(w, r, http.StatusUnprocessableEntity, "Invalid filter: "+filter+"; must be one of latest, all", "https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run")
		return
	}
	s.mu.Lock()
	var jobs []*job
	if filter == "all" {
		for _, at := range rn.attempts {
			jobs = append(jobs, at.jobs...)
		}
	} else {
		seen := map[string]bool{}
		for i := len(rn.attempts) - 1; i >= 0; i-- {
			for _, j := range rn.attempts[i].jobs {
				if !seen[j.name] {
					seen[j.name] = true
					jobs = append(jobs, j)
				}
			}
		}
		sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].id < jobs[b].id })
	}
	s.mu.Unlock()
	s.writeJobs(w, r, rn, jobs)
}

func (s *Server) listAttemptJobs(w http.ResponseWriter, r *http.Request) {
	rn, ok := s.runFromPath(w, r)
	if !ok {
		return
	}
	at, ok := s.attemptFromPath(w, r, rn)
	if !ok {
		return
	}
	s.mu.Lock()
	jobs := append([]*job(nil), at.jobs...)
	s.mu.Unlock()
	s.writeJobs(w, r, rn, jobs)
}

func (s *Server) writeJobs(w http.ResponseWriter, r *http.Request, rn *run, jobs []*job) {
	pg, _ := s.page(w, r)
	from, to := pg.bounds(len(jobs))
	s.mu.Lock()
	out := make([]jobJSON, 0, to-from)
	for _, j := range jobs[from:to] {
		out = append(out, s.jobJSON(rn, j))
	}
	s.mu.Unlock()
	pg.link(w, r, len(jobs))
	s.ok(w, r, map[string]any{"total_count": len(jobs), "jobs": out})
}

// cancelRun is POST .../runs/{id}/cancel: 202, and the run stays as it is a moment
// (GitHub stops its jobs first) before it completes as cancelled: after
// Options.CancelDelay, or at SettleCancels, whichever comes first. 409 for a run that is
// completed already.
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	rn, ok := s.runFromPath(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	at := rn.latest()
	if at.status == "completed" {
		s.mu.Unlock()
		s.fail(w, r, http.StatusConflict, "Cannot cancel a workflow run that is completed.", "https://docs.github.com/rest/actions/workflow-runs#cancel-a-workflow-run")
		return
	}
	s.cancels = append(s.cancels, rn.id)
	if !at.cancelling {
		at.cancelling = true
		s.cancelLaterLocked(rn, at)
	}
	s.mu.Unlock()
	s.answer(w, r, http.StatusAccepted, struct{}{})
}

// cancelLaterLocked completes a cancelled attempt after Options.CancelDelay, unless it
// completed otherwise first. Callers hold s.mu.
func (s *Server) cancelLaterLocked(rn *run, at *attempt) {
	select {
	case <-s.closed:
		return
	default:
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if !s.pause(s.opts.CancelDelay) {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.settleLocked(rn, at)
	}()
}

// settleLocked completes an attempt being cancelled. Callers hold s.mu.
func (s *Server) settleLocked(rn *run, at *attempt) {
	if at.cancelling && at.status != "completed" {
		s.completeRunLocked(rn, "cancelled", "", "")
	}
}

// SettleCancels completes now, as cancelled, every run whose cancel was accepted and that
// is not completed yet, for a test that wants the moment in its own hands.
func (s *Server) SettleCancels() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runOrder {
		s.settleLocked(rn, rn.latest())
	}
}

// rerunFailedJobs is POST .../runs/{id}/rerun-failed-jobs: 201 and a new attempt;
// 403 while the run is still running, as GitHub answers.
func (s *Server) rerunFailedJobs(w http.ResponseWriter, r *http.Request) {
	rn, ok := s.runFromPath(w, r)
	if !ok {
		return
	}
	var body struct {
		EnableDebugLogging bool `json:"enable_debug_logging"`
	}
	if !s.decodeBody(w, r, &body) {
		return
	}
	s.mu.Lock()
	if rn.latest().status != "completed" {
		s.mu.Unlock()
		s.fail(w, r, http.StatusForbidden, "This workflow is already running", "https://docs.github.com/rest/actions/workflow-runs#re-run-failed-jobs-from-a-workflow-run")
		return
	}
	s.rerunLocked(rn, s.actorLocked(r))
	s.mu.Unlock()
	s.answer(w, r, http.StatusCreated, struct{}{})
}

// Cancels returns the ids of the runs cancelled through the API, in order.
func (s *Server) Cancels() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.cancels...)
}

// Reruns returns the ids of the runs re-run (through the API or RerunFailed), in order.
func (s *Server) Reruns() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.reruns...)
}

// actorLocked is the user a request acts as: the token's owner, or the App's bot.
func (s *Server) actorLocked(r *http.Request) string {
	if _, ok := s.appTokens[credential(r)]; ok {
		return "herald[bot]"
	}
	return "octocat"
}
