package jenkinstest

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

type kind int

const (
	kindFolder kind = iota
	kindMultibranch
	kindFreestyle
	kindPipeline
)

var classes = map[kind]string{
	kindFolder:      "com.cloudbees.hudson.plugins.folder.Folder",
	kindMultibranch: "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
	kindFreestyle:   "hudson.model.FreeStyleProject",
	kindPipeline:    "org.jenkinsci.plugins.workflow.job.WorkflowJob",
}

var buildClasses = map[kind]string{
	kindFreestyle: "hudson.model.FreeStyleBuild",
	kindPipeline:  "org.jenkinsci.plugins.workflow.job.WorkflowRun",
}

// ParamType is a kind of parameter definition, by Jenkins' type name.
type ParamType string

const (
	ParamString   ParamType = "StringParameterDefinition"
	ParamText     ParamType = "TextParameterDefinition"
	ParamBoolean  ParamType = "BooleanParameterDefinition"
	ParamChoice   ParamType = "ChoiceParameterDefinition"
	ParamPassword ParamType = "PasswordParameterDefinition"
)

// ParamDef is one parameter a job declares. A choice's default is its first choice.
type ParamDef struct {
	Name, Description string
	Type              ParamType
	Default           string
	Choices           []string
}

// Cause is why a build started, as Jenkins' causes say it.
type Cause struct {
	Class            string
	ShortDescription string
	UserID, UserName string
}

// UserCause is a build started by user id (its name the same).
func UserCause(id string) Cause {
	return Cause{Class: "hudson.model.Cause$UserIdCause", ShortDescription: "Started by user " + id, UserID: id, UserName: id}
}

// TimerCause is a build started by the job's cron trigger.
var TimerCause = Cause{Class: "hudson.triggers.TimerTrigger$TimerTriggerCause", ShortDescription: "Started by timer"}

// SCMCause is a build started by an SCM poll or push.
var SCMCause = Cause{Class: "hudson.triggers.SCMTrigger$SCMTriggerCause", ShortDescription: "Started by an SCM change"}

// Trigger is what queues a build.
type Trigger struct {
	Cause  Cause
	More   []Cause           // causes listed after Cause: a replay lists its ReplayCause, then who replayed it
	Params map[string]string // parameter values; missing ones take the definitions' defaults
	SHA    string            // the revision the git plugin will record; empty: none recorded
	Branch string            // the branch it records with it, as the plugin names it (origin/main)
	// LibrarySHA and LibraryBranch are a Git-based shared library's checkout: the git
	// plugin records it as a BuildData of its own, listed before the build's.
	LibrarySHA, LibraryBranch string
}

// Stage is a Pipeline stage as wfapi/describe shows it.
type Stage struct {
	Name   string
	Status string // SUCCESS, FAILED, IN_PROGRESS, PAUSED_PENDING_INPUT, NOT_EXECUTED, ABORTED, UNSTABLE
}

// Node is an agent (or the built-in node).
type Node struct {
	Name      string
	Executors int
	Offline   bool
	Idle      bool
}

type node struct {
	kind     kind
	name     string
	parent   *node
	children []*node
	disabled bool
	params   []ParamDef
	builds   []*build // oldest first
	next     int      // next build number
	notify   bool     // the job has the Notification plugin's endpoint
	veto     bool     // scheduling its builds gives no queue item (VetoQueue)
}

type build struct {
	job      *node
	number   int
	queueID  int64
	building bool
	result   string
	startMs  int64
	duration int64
	cause    Cause
	more     []Cause // causes after cause
	noStages bool    // its wfapi answers 404 (HideStages)
	params   map[string]string
	sha      string
	branch   string
	libSHA   string // a shared library's checkout (Trigger.LibrarySHA)
	libRef   string
	stages   []Stage
}

type queueItem struct {
	id        int64
	job       *node
	trigger   Trigger
	since     int64
	cancelled bool
	build     *build
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *node) isJob() bool { return n.kind == kindFreestyle || n.kind == kindPipeline }

func (n *node) fullName() string {
	if n.parent == nil || n.parent.parent == nil {
		return n.name
	}
	return n.parent.fullName() + "/" + n.name
}

// path is the job's path below the root: job/a/job/b/.
func (n *node) path() string {
	if n.parent == nil {
		return ""
	}
	return n.parent.path() + "job/" + url.PathEscape(n.name) + "/"
}

func (n *node) build(number int64) *build {
	for _, b := range n.builds {
		if int64(b.number) == number {
			return b
		}
	}
	return nil
}

func (b *build) url(root string) string { return root + b.job.path() + strconv.Itoa(b.number) + "/" }

// color is the job's ball: its last build's result, animated while one runs.
func (n *node) color() string {
	if n.disabled {
		return "disabled"
	}
	c := "notbuilt"
	anime := false
	for i := len(n.builds) - 1; i >= 0; i-- {
		b := n.builds[i]
		if b.building {
			anime = true
			continue
		}
		c = map[string]string{"SUCCESS": "blue", "UNSTABLE": "yellow", "FAILURE": "red", "ABORTED": "aborted", "NOT_BUILT": "notbuilt"}[b.result]
		break
	}
	if anime {
		c += "_anime"
	}
	return c
}

// The JSON of every object, complete (the tree filters it); full false is the depth-0
// view Jenkins gives without a tree: nested objects by their name and url only.

func (s *Server) rootJSONLocked(shallow bool) map[string]any {
	return map[string]any{
		"_class": "hudson.model.Hudson", "mode": "NORMAL", "nodeDescription": "the Jenkins controller's built-in node",
		"numExecutors": 2, "useSecurity": s.opts.Username != "", "url": s.root,
		"jobs": s.jobsJSONLocked(s.top, shallow),
	}
}

func (s *Server) jobsJSONLocked(n *node, shallow bool) []any {
	out := []any{}
	for _, c := range n.children {
		if shallow {
			o := map[string]any{"_class": classes[c.kind], "name": c.name, "url": s.root + c.path()}
			if c.isJob() {
				o["color"] = c.color()
			}
			out = append(out, o)
			continue
		}
		out = append(out, s.jobJSONLocked(c, false))
	}
	return out
}

func (s *Server) jobJSONLocked(n *node, shallow bool) map[string]any {
	o := map[string]any{
		"_class": classes[n.kind], "name": n.name, "fullName": n.fullName(), "displayName": displayName(n),
		"fullDisplayName": n.fullName(), "url": s.root + n.path(), "description": nil,
	}
	if !n.isJob() {
		o["jobs"] = s.jobsJSONLocked(n, shallow)
		return o
	}
	o["color"] = n.color()
	o["buildable"] = !n.disabled
	o["nextBuildNumber"] = n.next + 1
	inQueue := false
	for _, q := range s.queue {
		inQueue = inQueue || (q.job == n && q.build == nil && !q.cancelled)
	}
	o["inQueue"] = inQueue
	// A job's builds field lists its newest 100 builds (allBuilds has the rest).
	builds := []any{}
	for i := len(n.builds) - 1; i >= max(len(n.builds)-maxBuildsListed, 0); i-- {
		b := n.builds[i]
		if shallow {
			builds = append(builds, map[string]any{"_class": buildClasses[n.kind], "number": b.number, "url": b.url(s.root)})
		} else {
			builds = append(builds, s.buildJSONLocked(b))
		}
	}
	o["builds"] = builds
	props := []any{}
	if len(n.params) > 0 {
		var defs []any
		for _, d := range n.params {
			def := map[string]any{"_class": "hudson.model." + string(d.Type), "name": d.Name, "type": string(d.Type), "description": d.Description}
			var dv any = d.Default
			switch d.Type {
			case ParamBoolean:
				dv = d.Default == "true"
			case ParamChoice:
				def["choices"] = d.Choices
				if len(d.Choices) > 0 {
					dv = d.Choices[0]
				}
			}
			valueClass := "hudson.model." + strings.TrimSuffix(string(d.Type), "Definition") + "Value"
			if d.Type == ParamChoice || d.Type == ParamText {
				valueClass = "hudson.model.StringParameterValue"
			}
			dpv := map[string]any{"_class": valueClass, "name": d.Name}
			if d.Type != ParamPassword {
				dpv["value"] = dv
			}
			def["defaultParameterValue"] = dpv
			defs = append(defs, def)
		}
		props = append(props, map[string]any{"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": defs})
	}
	o["property"] = props
	return o
}

// maxBuildsListed is how many builds a job's builds field lists.
const maxBuildsListed = 100

func displayName(n *node) string {
	if n.parent != nil && n.parent.kind == kindMultibranch {
		if d, err := url.PathUnescape(n.name); err == nil {
			return d
		}
	}
	return n.name
}

func (s *Server) buildJSONLocked(b *build) map[string]any {
	var result any
	if !b.building {
		result = b.result
	}
	causes := []any{causeJSON(b.cause)}
	for _, c := range b.more {
		causes = append(causes, causeJSON(c))
	}
	actions := []any{map[string]any{"_class": "hudson.model.CauseAction", "causes": causes}}
	if len(b.job.params) > 0 {
		var ps []any
		for _, d := range b.job.params {
			v := map[string]any{"_class": "hudson.model." + strings.TrimSuffix(string(d.Type), "Definition") + "Value", "name": d.Name}
			switch d.Type {
			case ParamPassword: // its value is not exported
			case ParamBoolean:
				v["value"] = b.params[d.Name] == "true"
			case ParamChoice, ParamText:
				v["_class"] = "hudson.model.StringParameterValue"
				v["value"] = b.params[d.Name]
			default:
				v["value"] = b.params[d.Name]
			}
			ps = append(ps, v)
		}
		actions = append(actions, map[string]any{"_class": "hudson.model.ParametersAction", "parameters": ps})
	}
	if b.libSHA != "" {
		actions = append(actions, map[string]any{
			"_class":            "hudson.plugins.git.util.BuildData",
			"lastBuiltRevision": map[string]any{"SHA1": b.libSHA, "branch": []any{map[string]any{"SHA1": b.libSHA, "name": b.libRef}}},
			"remoteUrls":        []any{"https://git.example.com/pipeline-library.git"},
			"scmName":           "",
		})
	}
	if b.sha != "" {
		actions = append(actions, map[string]any{
			"_class":            "hudson.plugins.git.util.BuildData",
			"lastBuiltRevision": map[string]any{"SHA1": b.sha, "branch": []any{map[string]any{"SHA1": b.sha, "name": b.branch}}},
			"remoteUrls":        []any{"https://git.example.com/app.git"},
			"scmName":           "",
		})
	}
	actions = append(actions, map[string]any{})
	return map[string]any{
		"_class": buildClasses[b.job.kind], "number": b.number, "id": strconv.Itoa(b.number),
		"displayName": "#" + strconv.Itoa(b.number), "fullDisplayName": b.job.fullName() + " #" + strconv.Itoa(b.number),
		"url": b.url(s.root), "building": b.building, "result": result, "timestamp": b.startMs,
		"duration": b.duration, "estimatedDuration": 60000, "queueId": b.queueID, "keepLog": false,
		"actions": actions,
	}
}

func causeJSON(c Cause) map[string]any {
	o := map[string]any{"_class": c.Class, "shortDescription": c.ShortDescription}
	if c.UserID != "" {
		o["userId"], o["userName"] = c.UserID, c.UserName
	}
	return o
}

func (s *Server) describeJSONLocked(b *build) map[string]any {
	status := "IN_PROGRESS"
	if !b.building {
		status = map[string]string{"SUCCESS": "SUCCESS", "UNSTABLE": "UNSTABLE", "FAILURE": "FAILED", "ABORTED": "ABORTED", "NOT_BUILT": "NOT_EXECUTED"}[b.result]
	}
	var stages []any
	for i, st := range b.stages {
		stages = append(stages, map[string]any{
			"id": strconv.Itoa(i + 6), "name": st.Name, "execNode": "", "status": st.Status,
			"startTimeMillis": b.startMs, "durationMillis": 0, "pauseDurationMillis": 0,
		})
	}
	return map[string]any{
		"_links": map[string]any{"self": map[string]any{"href": "/" + b.job.path() + strconv.Itoa(b.number) + "/wfapi/describe"}},
		"id":     strconv.Itoa(b.number), "name": "#" + strconv.Itoa(b.number), "status": status,
		"startTimeMillis": b.startMs, "endTimeMillis": b.startMs + b.duration, "durationMillis": b.duration,
		"queueDurationMillis": 0, "pauseDurationMillis": 0, "stages": stages,
	}
}

func (s *Server) computersJSONLocked() map[string]any {
	var cs []any
	busy, total := 0, 0
	for i, n := range s.nodes {
		class := "hudson.slaves.SlaveComputer"
		if i == 0 {
			class = "hudson.model.Hudson$MasterComputer"
		}
		cs = append(cs, map[string]any{
			"_class": class, "displayName": n.Name, "offline": n.Offline, "idle": n.Idle,
			"temporarilyOffline": false, "numExecutors": n.Executors,
		})
		total += n.Executors
		if !n.Idle {
			busy++
		}
	}
	return map[string]any{"_class": "hudson.model.ComputerSet", "busyExecutors": busy, "computer": cs, "displayName": "Nodes", "totalExecutors": total}
}

func (s *Server) queueItemJSONLocked(q *queueItem) map[string]any {
	task := map[string]any{"_class": classes[q.job.kind], "name": q.job.name, "url": s.root + q.job.path(), "color": q.job.color()}
	o := map[string]any{"id": q.id, "inQueueSince": q.since, "task": task, "url": fmt.Sprintf("queue/item/%d/", q.id)}
	switch {
	case q.cancelled:
		o["_class"], o["cancelled"], o["executable"] = "hudson.model.Queue$LeftItem", true, nil
	case q.build != nil:
		o["_class"], o["cancelled"] = "hudson.model.Queue$LeftItem", false
		o["executable"] = map[string]any{"_class": buildClasses[q.job.kind], "number": q.build.number, "url": q.build.url(s.root)}
	default:
		o["_class"], o["why"], o["buildable"], o["blocked"], o["stuck"] = "hudson.model.Queue$BuildableItem", "Waiting for next available executor", true, false, false
	}
	return o
}
