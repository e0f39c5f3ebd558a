package jenkins

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// One request reads every job: the root's api/json with a tree filter that names the
// fields herald uses, nested through folders to maxFolderDepth, with each job's newest
// builds ({0,n}: Jenkins lists a job's builds newest first). Jenkins' tree syntax:
// field[subfields]{from,to} (to exclusive).

// maxFolderDepth is how many folder levels the tree reads below the root: an organization
// folder holds repositories holding branch jobs (3), with room for a folder around it.
const maxFolderDepth = 4

// pollBuilds is how many of a job's newest builds a poll reads; catchUpBuilds is how many a
// catch-up after a longer silence reads (see BuildsChangedSince).
const (
	pollBuilds    = 10
	catchUpBuilds = 50
)

// buildTree is the fields of a build herald reads. Actions hold what is not a field of the
// build itself: the causes (who or what started it), the parameters, and the git plugin's
// BuildData (the revision built and its branch).
const buildTree = "number,url,result,building,timestamp,duration,queueId," +
	"actions[causes[shortDescription,userId,userName],parameters[name,value],lastBuiltRevision[SHA1,branch[name]]]"

// jobsTree is the tree of the root's jobs with n builds each.
func jobsTree(n int, extra string) string {
	fields := "name,url,color,buildable"
	if extra != "" {
		fields += "," + extra
	}
	if n > 0 {
		fields += ",builds[" + buildTree + "]{0," + strconv.Itoa(n) + "}"
	}
	t := "jobs[" + fields + "]"
	for range maxFolderDepth {
		t = "jobs[" + fields + "," + t + "]"
	}
	return t
}

// Jenkins' JSON, the fields herald reads. Every object carries its Java class in _class.
type (
	jobJSON struct {
		Class     string         `json:"_class"`
		Name      string         `json:"name"`
		URL       string         `json:"url"`
		Color     string         `json:"color"`
		Buildable *bool          `json:"buildable"`
		Jobs      []jobJSON      `json:"jobs"`
		Builds    []buildJSON    `json:"builds"`
		Property  []propertyJSON `json:"property"`
	}
	buildJSON struct {
		Class     string       `json:"_class"`
		Number    int          `json:"number"`
		URL       string       `json:"url"`
		Result    string       `json:"result"` // null while building
		Building  bool         `json:"building"`
		Timestamp int64        `json:"timestamp"` // ms since the epoch: when it was scheduled to start
		Duration  int64        `json:"duration"`  // ms; 0 while building
		QueueID   int64        `json:"queueId"`
		Actions   []actionJSON `json:"actions"`
	}
	actionJSON struct {
		Class             string           `json:"_class"`
		Causes            []causeJSON      `json:"causes"`
		Parameters        []paramValueJSON `json:"parameters"`
		LastBuiltRevision *revisionJSON    `json:"lastBuiltRevision"`
	}
	causeJSON struct {
		Class            string `json:"_class"`
		ShortDescription string `json:"shortDescription"`
		UserID           string `json:"userId"`
		UserName         string `json:"userName"`
	}
	paramValueJSON struct {
		Class string          `json:"_class"`
		Name  string          `json:"name"`
		Value json.RawMessage `json:"value"` // a string, a boolean, ...; absent for a password
	}
	revisionJSON struct {
		SHA1   string `json:"SHA1"`
		Branch []struct {
			Name string `json:"name"`
		} `json:"branch"`
	}
	rootJSON struct {
		Jobs []jobJSON `json:"jobs"`
	}
)

// job is one job of the tree, flattened.
type job struct {
	FullName string
	Branch   string // a multibranch pipeline's branch job: its branch
	JSON     jobJSON
}

// isFolder says whether a node holds jobs (a folder, a multibranch pipeline, an
// organization folder) rather than being one.
func isFolder(j jobJSON) bool {
	return j.Jobs != nil || strings.HasSuffix(j.Class, ".Folder") || strings.HasSuffix(j.Class, "MultiBranchProject") ||
		strings.HasSuffix(j.Class, "OrganizationFolder")
}

func isMultibranch(j jobJSON) bool { return strings.HasSuffix(j.Class, "MultiBranchProject") }

// flatten lists the jobs below nodes, full names joined with /. tooDeep says a folder at the
// depth limit was left unread.
func flatten(nodes []jobJSON) (jobs []job, tooDeep bool) {
	var walk func(prefix string, multibranch bool, nodes []jobJSON, depth int)
	walk = func(prefix string, multibranch bool, nodes []jobJSON, depth int) {
		for _, n := range nodes {
			if n.Name == "" {
				continue
			}
			full := prefix + n.Name
			if isFolder(n) {
				if n.Jobs == nil && depth >= maxFolderDepth {
					tooDeep = true
				}
				walk(full+"/", isMultibranch(n), n.Jobs, depth+1)
				continue
			}
			j := job{FullName: full, JSON: n}
			if multibranch {
				// A branch job is named after its branch with / encoded as %2F.
				if b, err := url.PathUnescape(n.Name); err == nil {
					j.Branch = b
				} else {
					j.Branch = n.Name
				}
			}
			jobs = append(jobs, j)
		}
	}
	walk("", false, nodes, 0)
	return jobs, tooDeep
}

// results maps Jenkins' results to herald's (issue 10's table).
var results = map[string]ci.Result{
	"SUCCESS":   ci.ResultSuccess,
	"UNSTABLE":  ci.ResultWarnings,
	"FAILURE":   ci.ResultFailure,
	"ABORTED":   ci.ResultCancelled,
	"NOT_BUILT": ci.ResultSkipped,
}

// Result is herald's result for a Jenkins result. One Jenkins or a plugin adds later is an
// exception, so the build still ends and someone looks at it.
func Result(r string) ci.Result {
	if res, ok := results[r]; ok {
		return res
	}
	return ci.ResultException
}

// msTime is a Jenkins time stamp (ms since the epoch) as a time; 0 is the zero time.
func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// toBuild maps a build of job j, cleaned against now. ok is false for a build without a
// number, which is skipped.
func toBuild(conn string, j job, b buildJSON, now time.Time) (ci.Build, bool) {
	if b.Number <= 0 {
		return ci.Build{}, false
	}
	out := ci.Build{
		Conn:      conn,
		ID:        buildID(j.FullName, b.Number, b.QueueID),
		Number:    b.Number,
		Builder:   j.FullName,
		BuilderID: j.FullName,
		RequestID: queueRequestID(b.QueueID),
		URL:       b.URL,
		StartedAt: msTime(b.Timestamp),
	}
	var (
		params    map[string]string
		revs      []revisionJSON // the git plugin's BuildData, one per repository checked out
		userOwned bool
	)
	for _, a := range b.Actions {
		for i, c := range a.Causes {
			if i == 0 && out.Reason == "" {
				out.Owner, out.Reason = causeOwner(c), c.ShortDescription
			}
			// A replayed or rebuilt build lists its ReplayCause or UpstreamCause first;
			// the user who asked for it is the owner wherever they are listed.
			if strings.HasSuffix(c.Class, "UserIdCause") && !userOwned {
				out.Owner, userOwned = causeOwner(c), true
			}
		}
		for _, pv := range a.Parameters {
			if params == nil {
				params = map[string]string{}
			}
			if v, ok := paramString(pv.Value); ok {
				params[pv.Name] = v
			}
		}
		if r := a.LastBuiltRevision; r != nil && r.SHA1 != "" {
			revs = append(revs, *r)
		}
	}
	switch {
	case j.Branch != "":
		out.Branch = j.Branch
	case params["BRANCH_NAME"] != "":
		out.Branch = params["BRANCH_NAME"]
	case params["GIT_BRANCH"] != "":
		out.Branch = gitBranch(params["GIT_BRANCH"])
	}
	if r, ok := builtRevision(revs, out.Branch); ok {
		out.Revision = r.SHA1
		if out.Branch == "" && len(r.Branch) > 0 {
			out.Branch = gitBranch(r.Branch[0].Name)
		}
	}
	if b.Building || b.Result == "" {
		out.StateText = "building"
	} else {
		out.Complete = true
		out.Result = Result(b.Result)
		out.StateText = strings.ToLower(b.Result)
		if !out.StartedAt.IsZero() {
			out.FinishedAt = out.StartedAt.Add(time.Duration(max(b.Duration, 0)) * time.Millisecond)
		}
	}
	return ci.CleanBuild(out, now), true
}

// builtRevision is the revision a build built among the git plugin's BuildData: each
// checkout of another repository adds one, a Git-based shared library's before the
// build's own checkout. The one of the build's branch when it is known, else the last.
func builtRevision(revs []revisionJSON, branch string) (revisionJSON, bool) {
	if len(revs) == 0 {
		return revisionJSON{}, false
	}
	if branch != "" {
		for _, r := range revs {
			for _, b := range r.Branch {
				if gitBranch(b.Name) == branch {
					return r, true
				}
			}
		}
	}
	return revs[len(revs)-1], true
}

// causeOwner is who or what started a build: the user who pressed Build (or whose API token
// asked), "timer" for a cron trigger, "SCM change" for an SCM poll or push; "" for other
// causes, whose description is the build's reason.
func causeOwner(c causeJSON) string {
	switch {
	case strings.HasSuffix(c.Class, "UserIdCause"):
		if c.UserName != "" {
			return c.UserName
		}
		return c.UserID
	case strings.HasSuffix(c.Class, "TimerTriggerCause"):
		return "timer"
	case strings.HasSuffix(c.Class, "SCMTriggerCause"):
		return "SCM change"
	}
	return ""
}

// paramString is a parameter value as the form sends it: strings as they are, booleans and
// numbers as written. A value Jenkins does not show (a password) is not ok.
func paramString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return strconv.FormatBool(b), true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// gitBranch is a branch as users name it: the git plugin names the branch it built as the
// remote has it ("refs/remotes/origin/main", "origin/main").
func gitBranch(name string) string {
	switch {
	case strings.HasPrefix(name, "refs/remotes/"):
		if _, rest, ok := strings.Cut(strings.TrimPrefix(name, "refs/remotes/"), "/"); ok {
			return rest
		}
	case strings.HasPrefix(name, "refs/heads/"):
		return strings.TrimPrefix(name, "refs/heads/")
	case strings.HasPrefix(name, "origin/"):
		return strings.TrimPrefix(name, "origin/")
	}
	return name
}

// decodeTree reads the root's answer; its own function so the fuzz test reaches it.
func decodeTree(body []byte) (rootJSON, error) {
	var r rootJSON
	if err := json.Unmarshal(body, &r); err != nil {
		return rootJSON{}, fmt.Errorf("jenkins: the jobs tree: %w", err)
	}
	return r, nil
}

// jsonValue is a JSON value kept as written, for parameter defaults: a string, a boolean
// or a number.
type jsonValue json.RawMessage

// UnmarshalJSON keeps the raw value.
func (v *jsonValue) UnmarshalJSON(b []byte) error {
	*v = append((*v)[:0], b...)
	return nil
}

// String is the value as a form sends it; "" for null or anything else.
func (v jsonValue) String() string {
	s, _ := paramString(json.RawMessage(v))
	return s
}
