package githubtest

import "net/http"

// routes maps the endpoints the fake serves (paths below Options.Prefix). Anything
// else answers 404 Not Found, as GitHub does for routes it does not have.
func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	const rp = "/repos/{owner}/{repo}"
	m.HandleFunc("GET /rate_limit", s.getRateLimit)
	m.HandleFunc("POST /app/installations/{installation}/access_tokens", s.createInstallationToken)
	m.HandleFunc("GET "+rp, s.getRepo)
	m.HandleFunc("GET "+rp+"/branches", s.listBranches)
	m.HandleFunc("GET "+rp+"/contents/{path...}", s.getContents)
	m.HandleFunc("GET "+rp+"/actions/workflows", s.listWorkflows)
	m.HandleFunc("GET "+rp+"/actions/workflows/{workflow}", s.getWorkflow)
	m.HandleFunc("GET "+rp+"/actions/workflows/{workflow}/runs", s.listRuns)
	m.HandleFunc("POST "+rp+"/actions/workflows/{workflow}/dispatches", s.dispatchWorkflow)
	m.HandleFunc("GET "+rp+"/actions/runs", s.listRuns)
	m.HandleFunc("GET "+rp+"/actions/runs/{run}", s.getRun)
	m.HandleFunc("GET "+rp+"/actions/runs/{run}/attempts/{attempt}", s.getAttempt)
	m.HandleFunc("GET "+rp+"/actions/runs/{run}/jobs", s.listJobs)
	m.HandleFunc("GET "+rp+"/actions/runs/{run}/attempts/{attempt}/jobs", s.listAttemptJobs)
	m.HandleFunc("POST "+rp+"/actions/runs/{run}/cancel", s.cancelRun)
	m.HandleFunc("POST "+rp+"/actions/runs/{run}/rerun-failed-jobs", s.rerunFailedJobs)
	m.HandleFunc("GET "+rp+"/actions/runners", s.listRunners)
	m.HandleFunc("/", s.notFound)
	return m
}
