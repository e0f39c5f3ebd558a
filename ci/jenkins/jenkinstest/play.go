package jenkinstest

import (
	"fmt"
	"strings"
)

// JobOptions describe a job.
type JobOptions struct {
	Pipeline bool       // a Pipeline job (stages, wfapi); else a freestyle project
	Params   []ParamDef // its parameters; none: it is built with build, not buildWithParameters
	Notify   bool       // the Notification plugin posts its builds' phases to Options.NotifyURL
}

// folderLocked finds or makes the folders of path (a/b), the root for "".
func (s *Server) folderLocked(path string) *node {
	n := s.top
	if path == "" {
		return n
	}
	for _, seg := range strings.Split(path, "/") {
		c := n.child(seg)
		if c == nil {
			c = &node{kind: kindFolder, name: seg, parent: n}
			n.children = append(n.children, c)
		}
		n = c
	}
	return n
}

// AddFolder makes a folder (and the folders around it).
func (s *Server) AddFolder(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.folderLocked(path)
	s.changedLocked()
}

// AddJob makes a job by its full name; the folders around it are made as needed.
func (s *Server) AddJob(fullName string, o JobOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, name := "", fullName
	if i := strings.LastIndexByte(fullName, '/'); i >= 0 {
		parent, name = fullName[:i], fullName[i+1:]
	}
	s.addLocked(s.folderLocked(parent), name, o)
}

func (s *Server) addLocked(parent *node, name string, o JobOptions) *node {
	k := kindFreestyle
	if o.Pipeline {
		k = kindPipeline
	}
	n := &node{kind: k, name: name, parent: parent, params: o.Params, notify: o.Notify}
	parent.children = append(parent.children, n)
	s.changedLocked()
	return n
}

// AddMultibranch makes a multibranch pipeline at path with a branch job per branch, named
// as Jenkins names them (a / in a branch is %2F): its full name is returned per branch.
func (s *Server) AddMultibranch(path string, notify bool, branches ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		parent, name = path[:i], path[i+1:]
	}
	p := s.folderLocked(parent)
	mb := &node{kind: kindMultibranch, name: name, parent: p}
	p.children = append(p.children, mb)
	var out []string
	for _, b := range branches {
		enc := strings.NewReplacer("%", "%25", "/", "%2F").Replace(b)
		s.addLocked(mb, enc, JobOptions{Pipeline: true, Notify: notify})
		out = append(out, path+"/"+enc)
	}
	return out
}

func (s *Server) jobLocked(fullName string) *node {
	n := s.top
	for _, seg := range strings.Split(fullName, "/") {
		if n = n.child(seg); n == nil {
			panic(fmt.Sprintf("jenkinstest: no job %s", fullName))
		}
	}
	if !n.isJob() {
		panic(fmt.Sprintf("jenkinstest: %s is a folder", fullName))
	}
	return n
}

// Disable disables or enables a job.
func (s *Server) Disable(fullName string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobLocked(fullName).disabled = disabled
	s.changedLocked()
}

// HideStages makes a build's wfapi/describe answer 404, as for a build discarded between
// herald's read of the jobs and its read of the stages.
func (s *Server) HideStages(fullName string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buildLocked(fullName, number).noStages = true
}

// VetoQueue makes the build requests of a job schedule nothing, as when a plugin's queue
// decision handler refuses them: Jenkins then redirects to the job's page (302) instead of
// answering 201 with a queue item.
func (s *Server) VetoQueue(fullName string, veto bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobLocked(fullName).veto = veto
}

// Enqueue queues a build of a job, as a trigger would, and returns the queue item's id.
func (s *Server) Enqueue(fullName string, t Trigger) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.jobLocked(fullName)
	params := map[string]string{}
	for _, d := range n.params {
		v := d.Default
		if d.Type == ParamChoice && len(d.Choices) > 0 {
			v = d.Choices[0]
		}
		if got, ok := t.Params[d.Name]; ok {
			v = got
		}
		params[d.Name] = v
	}
	t.Params = params
	return s.enqueueLocked(n, t).id
}

func (s *Server) enqueueLocked(n *node, t Trigger) *queueItem {
	s.nextQueue++
	q := &queueItem{id: s.nextQueue, job: n, trigger: t, since: s.now().UnixMilli()}
	s.queue[q.id] = q
	if s.opts.AutoStart {
		s.startLocked(q)
	}
	s.changedLocked()
	return q
}

// Start makes a queue item's build start and returns its number.
func (s *Server) Start(queueID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ok := s.queue[queueID]
	if !ok || q.build != nil || q.cancelled {
		panic(fmt.Sprintf("jenkinstest: queue item %d is not waiting", queueID))
	}
	s.startLocked(q)
	s.changedLocked()
	return q.build.number
}

func (s *Server) startLocked(q *queueItem) {
	n := q.job
	n.next++
	b := &build{
		job: n, number: n.next, queueID: q.id, building: true, startMs: s.now().UnixMilli(),
		cause: q.trigger.Cause, more: q.trigger.More, params: q.trigger.Params, sha: q.trigger.SHA, branch: q.trigger.Branch,
		libSHA: q.trigger.LibrarySHA, libRef: q.trigger.LibraryBranch,
	}
	n.builds = append(n.builds, b)
	q.build = b
	// The plugin posts QUEUED when the build starts (its listener hears of a run only then),
	// with the number, just before STARTED.
	s.notifyLocked(n, b, "QUEUED")
	s.notifyLocked(n, b, "STARTED")
}

// Cancel cancels a queue item that has not started.
func (s *Server) Cancel(queueID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queue[queueID]; ok && q.build == nil {
		q.cancelled = true
	}
	s.changedLocked()
}

// Stages sets a running or finished Pipeline build's stages.
func (s *Server) Stages(fullName string, number int, stages ...Stage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buildLocked(fullName, number).stages = stages
	s.changedLocked()
}

func (s *Server) buildLocked(fullName string, number int) *build {
	b := s.jobLocked(fullName).build(int64(number))
	if b == nil {
		panic(fmt.Sprintf("jenkinstest: no build %s #%d", fullName, number))
	}
	return b
}

// Finish ends a running build with a result (SUCCESS, UNSTABLE, FAILURE, ABORTED,
// NOT_BUILT): COMPLETED and FINALIZED are posted.
func (s *Server) Finish(fullName string, number int, result string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buildLocked(fullName, number)
	if !b.building {
		panic(fmt.Sprintf("jenkinstest: build %s #%d has finished", fullName, number))
	}
	s.finishLocked(b, result)
	s.changedLocked()
}

func (s *Server) finishLocked(b *build, result string) {
	b.building, b.result = false, result
	b.duration = max(s.now().UnixMilli()-b.startMs, 1)
	s.notifyLocked(b.job, b, "COMPLETED")
	s.notifyLocked(b.job, b, "FINALIZED")
}

// BuildInfo is a build as the fake holds it, for a test's assertions.
type BuildInfo struct {
	Number   int
	QueueID  int64
	Building bool
	Result   string
	Params   map[string]string
	Cause    Cause
}

// Builds lists a job's builds, oldest first.
func (s *Server) Builds(fullName string) []BuildInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BuildInfo
	for _, b := range s.jobLocked(fullName).builds {
		out = append(out, BuildInfo{Number: b.number, QueueID: b.queueID, Building: b.building, Result: b.result, Params: b.params, Cause: b.cause})
	}
	return out
}

// SetNodes replaces the nodes (the first is the built-in node).
func (s *Server) SetNodes(nodes ...Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes = nil
	for _, n := range nodes {
		n := n
		s.nodes = append(s.nodes, &n)
	}
	s.changedLocked()
}

// QueuedBuild is the number of the build a queue item became; 0 while it waits (or was
// cancelled).
func (s *Server) QueuedBuild(queueID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queue[queueID]; ok && q.build != nil {
		return q.build.number
	}
	return 0
}
