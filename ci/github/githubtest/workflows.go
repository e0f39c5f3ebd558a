package githubtest

import (
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// workflow is one workflow file of a repository.
type workflow struct {
	id         int64
	repo       *repo
	path, name string
	yaml       string
	created    time.Time
	dispatch   bool    // the file has an on: workflow_dispatch trigger
	inputs     []input // its declared inputs, in file order
	nextNumber int     // run_number of the next run

	// onBranch holds the file as it is on the branches where it differs from the above
	// (the default branch's): SetWorkflowFile.
	onBranch map[string]*workflowFile
}

// workflowFile is a workflow file as one branch holds it.
type workflowFile struct {
	yaml     string
	dispatch bool
	inputs   []input
}

// at is the file as branch holds it.
func (wf *workflow) at(branch string) workflowFile {
	if f, ok := wf.onBranch[branch]; ok {
		return *f
	}
	return workflowFile{yaml: wf.yaml, dispatch: wf.dispatch, inputs: wf.inputs}
}

// SetWorkflowFile changes a workflow's file on one branch only, as a commit to that branch
// does: the contents API at that ref serves it, and a dispatch on that branch is checked
// against its inputs (GitHub runs the file at the ref dispatched). YAML that does not parse
// panics.
func (s *Server) SetWorkflowFile(repoName string, workflowID int64, branch, src string) {
	dispatch, inputs, err := parseTriggers(src)
	if err != nil {
		panic(fmt.Sprintf("githubtest: SetWorkflowFile(%d): %v", workflowID, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(repoName)
	if !rp.hasBranch(branch) {
		panic(fmt.Sprintf("githubtest: SetWorkflowFile: no branch %s in %s", branch, repoName))
	}
	for _, wf := range rp.workflows {
		if wf.id == workflowID {
			if wf.onBranch == nil {
				wf.onBranch = map[string]*workflowFile{}
			}
			wf.onBranch[branch] = &workflowFile{yaml: src, dispatch: dispatch, inputs: inputs}
			s.notifyLocked()
			return
		}
	}
	panic(fmt.Sprintf("githubtest: SetWorkflowFile: no workflow %d in %s", workflowID, repoName))
}

// input is one declared workflow_dispatch input.
type input struct {
	name     string
	typ      string // string (default), boolean, number, choice, environment
	required bool
	def      *string
	options  []string
}

// AddWorkflow adds a workflow file (path such as ".github/workflows/ci.yml") to a
// repository and returns its id. The contents API serves the file, and dispatches are
// checked against its on: workflow_dispatch inputs. YAML that does not parse panics.
func (s *Server) AddWorkflow(repoName, filePath, name, src string) int64 {
	dispatch, inputs, err := parseTriggers(src)
	if err != nil {
		panic(fmt.Sprintf("githubtest: AddWorkflow(%q): %v", filePath, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepoLocked(repoName)
	wf := &workflow{id: s.newIDLocked("workflow"), repo: rp, path: filePath, name: name, yaml: src,
		created: s.now(), dispatch: dispatch, inputs: inputs, nextNumber: 1}
	rp.workflows = append(rp.workflows, wf)
	s.notifyLocked()
	return wf.id
}

// parseTriggers reads a workflow file's on: key (a name, a list of names or a map) for
// workflow_dispatch and its inputs. yaml.Node keeps the key "on" a string: YAML 1.1
// readers would turn it into true.
func parseTriggers(src string) (bool, []input, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return false, nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return false, nil, fmt.Errorf("not a mapping")
	}
	on := mapValue(doc.Content[0], "on")
	if on == nil {
		return false, nil, fmt.Errorf("no on: key")
	}
	switch on.Kind {
	case yaml.ScalarNode:
		return on.Value == "workflow_dispatch", nil, nil
	case yaml.SequenceNode:
		for _, n := range on.Content {
			if n.Value == "workflow_dispatch" {
				return true, nil, nil
			}
		}
		return false, nil, nil
	case yaml.MappingNode:
	default:
		return false, nil, fmt.Errorf("on: is neither a name, a list nor a map")
	}
	wd := mapValue(on, "workflow_dispatch")
	if wd == nil {
		return false, nil, nil
	}
	ins := mapValue(wd, "inputs")
	if ins == nil || ins.Kind != yaml.MappingNode {
		return true, nil, nil
	}
	var out []input
	for i := 0; i+1 < len(ins.Content); i += 2 {
		in := input{name: ins.Content[i].Value, typ: "string"}
		spec := ins.Content[i+1]
		if t := mapValue(spec, "type"); t != nil {
			in.typ = t.Value
		}
		if rq := mapValue(spec, "required"); rq != nil {
			in.required = rq.Value == "true"
		}
		if d := mapValue(spec, "default"); d != nil {
			v := d.Value
			in.def = &v
		}
		if o := mapValue(spec, "options"); o != nil {
			for _, n := range o.Content {
				in.options = append(in.options, n.Value)
			}
		}
		out = append(out, in)
	}
	return true, out, nil
}

// mapValue is the value under key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

type workflowJSON struct {
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	Name      string `json:"name"`
	Path      string `json:"path"`
	State     string `json:"state"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	URL       string `json:"url"`
	HTMLURL   string `json:"html_url"`
	BadgeURL  string `json:"badge_url"`
}

func (s *Server) workflowJSON(wf *workflow) workflowJSON {
	rp := wf.repo
	return workflowJSON{
		ID: wf.id, NodeID: nodeID("W_", wf.id), Name: wf.name, Path: wf.path, State: "active",
		CreatedAt: stamp(wf.created), UpdatedAt: stamp(wf.created),
		URL:      s.url + "/repos/" + rp.full() + "/actions/workflows/" + strconv.FormatInt(wf.id, 10),
		HTMLURL:  s.webBase() + "/" + rp.full() + "/blob/" + rp.defaultBranch + "/" + wf.path,
		BadgeURL: s.webBase() + "/" + rp.full() + "/workflows/" + wf.name + "/badge.svg",
	}
}

// findWorkflowLocked resolves a {workflow_id}: the numeric id or the file's name.
func findWorkflowLocked(rp *repo, idOrFile string) *workflow {
	for _, wf := range rp.workflows {
		if strconv.FormatInt(wf.id, 10) == idOrFile || path.Base(wf.path) == idOrFile {
			return wf
		}
	}
	return nil
}

// workflowFromPath resolves {owner}/{repo} and {workflow_id} or answers 404.
func (s *Server) workflowFromPath(w http.ResponseWriter, r *http.Request) (*workflow, bool) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	wf := findWorkflowLocked(rp, strings.TrimSpace(r.PathValue("workflow")))
	s.mu.Unlock()
	if wf == nil {
		s.notFound(w, r)
		return nil, false
	}
	return wf, true
}

func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return
	}
	pg, _ := s.page(w, r)
	s.mu.Lock()
	all := make([]workflowJSON, 0, len(rp.workflows))
	for _, wf := range rp.workflows {
		all = append(all, s.workflowJSON(wf))
	}
	s.mu.Unlock()
	from, to := pg.bounds(len(all))
	pg.link(w, r, len(all))
	s.ok(w, r, map[string]any{"total_count": len(all), "workflows": all[from:to]})
}

func (s *Server) getWorkflow(w http.ResponseWriter, r *http.Request) {
	wf, ok := s.workflowFromPath(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	v := s.workflowJSON(wf)
	s.mu.Unlock()
	s.ok(w, r, v)
}
