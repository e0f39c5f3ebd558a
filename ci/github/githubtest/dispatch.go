package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Dispatch is one accepted workflow_dispatch request.
type Dispatch struct {
	Repo       string
	WorkflowID int64
	Ref        string
	Inputs     map[string]any
	RunID      int64 // the run it created
}

// Dispatches returns the accepted dispatches, in order.
func (s *Server) Dispatches() []Dispatch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Dispatch(nil), s.dispatches...)
}

const dispatchDocs = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"

// dispatchWorkflow is POST .../actions/workflows/{id}/dispatches: 204, or 200 with
// the run's ids when return_run_details is true; 422 with GitHub's messages for an
// unknown ref, a workflow without workflow_dispatch, and inputs that do not fit.
func (s *Server) dispatchWorkflow(w http.ResponseWriter, r *http.Request) {
	wf, ok := s.workflowFromPath(w, r)
	if !ok {
		return
	}
	var body struct {
		Ref              string         `json:"ref"`
		Inputs           map[string]any `json:"inputs"`
		ReturnRunDetails bool           `json:"return_run_details"`
	}
	if !s.decodeBody(w, r, &body) {
		return
	}
	if body.Ref == "" {
		s.fail(w, r, http.StatusUnprocessableEntity, "Invalid request.\n\n\"ref\" wasn't supplied.", dispatchDocs)
		return
	}
	// The documentation types inputs as an object of at most 25 properties, and its
	// examples give every value as a string. GitHub's exact words for these two refusals
	// are not documented; these follow the form of its other body validation messages.
	if len(body.Inputs) > maxDispatchInputs {
		s.fail(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("Invalid request.\n\nNo more than %d properties are allowed; %d were supplied.", maxDispatchInputs, len(body.Inputs)), dispatchDocs)
		return
	}
	for _, k := range sortedKeys(body.Inputs) {
		if _, ok := body.Inputs[k].(string); !ok {
			v, _ := json.Marshal(body.Inputs[k])
			s.fail(w, r, http.StatusUnprocessableEntity, fmt.Sprintf("Invalid request.\n\nFor 'properties/%s', %s is not a string.", k, v), dispatchDocs)
			return
		}
	}
	s.mu.Lock()
	branch := strings.TrimPrefix(body.Ref, "refs/heads/")
	if !wf.repo.hasBranch(branch) {
		s.mu.Unlock()
		s.fail(w, r, http.StatusUnprocessableEntity, "No ref found for: "+body.Ref, dispatchDocs)
		return
	}
	file := wf.at(branch) // GitHub runs the file as the ref holds it
	if !file.dispatch {
		s.mu.Unlock()
		s.fail(w, r, http.StatusUnprocessableEntity, "Workflow does not have 'workflow_dispatch' trigger", dispatchDocs)
		return
	}
	inputs, msg := checkInputs(file.inputs, body.Inputs)
	if msg != "" {
		s.mu.Unlock()
		s.fail(w, r, http.StatusUnprocessableEntity, msg, dispatchDocs)
		return
	}
	actor := s.actorLocked(r)
	rn := s.queueRunLocked(wf, RunOptions{Branch: branch, SHA: wf.repo.sha(branch), Event: "workflow_dispatch",
		Actor: actor, Message: "Manually run by " + actor, Author: actor}, inputs)
	s.dispatches = append(s.dispatches, Dispatch{Repo: wf.repo.full(), WorkflowID: wf.id, Ref: body.Ref, Inputs: body.Inputs, RunID: rn.id})
	runURL := s.url + "/repos/" + wf.repo.full() + "/actions/runs/" + strconv.FormatInt(rn.id, 10)
	html := s.webBase() + "/" + wf.repo.full() + "/actions/runs/" + strconv.FormatInt(rn.id, 10)
	s.autoPlayLocked(rn, rn.latest())
	s.mu.Unlock()
	if !body.ReturnRunDetails {
		s.answer(w, r, http.StatusNoContent, nil)
		return
	}
	s.ok(w, r, map[string]any{"workflow_run_id": rn.id, "run_url": runURL, "html_url": html})
}

// maxDispatchInputs is the most inputs a dispatch may give.
const maxDispatchInputs = 25

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkInputs validates dispatch inputs against the declared ones and fills in
// defaults; the message is GitHub's when they do not fit.
func checkInputs(declared []input, given map[string]any) (map[string]any, string) {
	known := map[string]input{}
	for _, in := range declared {
		known[in.name] = in
	}
	var unexpected []string
	for k := range given {
		if _, ok := known[k]; !ok {
			unexpected = append(unexpected, k)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		list, _ := json.Marshal(unexpected)
		return nil, "Unexpected inputs provided: " + string(list)
	}
	out := map[string]any{}
	for _, in := range declared {
		v, ok := given[in.name]
		if !ok || v == nil {
			if in.def != nil {
				out[in.name] = *in.def
				continue
			}
			if in.required {
				return nil, fmt.Sprintf("Required input '%s' not provided", in.name)
			}
			continue
		}
		str := fmt.Sprint(v)
		switch in.typ {
		case "boolean":
			if str != "true" && str != "false" {
				return nil, fmt.Sprintf("Provided value '%s' for input '%s' not in the list of allowed values", str, in.name)
			}
		case "choice":
			found := false
			for _, o := range in.options {
				found = found || o == str
			}
			if !found {
				return nil, fmt.Sprintf("Provided value '%s' for input '%s' not in the list of allowed values", str, in.name)
			}
		case "number":
			if _, err := strconv.ParseFloat(str, 64); err != nil {
				return nil, fmt.Sprintf("Provided value '%s' for input '%s' is not a number", str, in.name)
			}
		}
		out[in.name] = v
	}
	return out, ""
}
