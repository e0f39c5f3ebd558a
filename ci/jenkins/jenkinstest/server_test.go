package jenkinstest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

const (
	user  = "herald"
	token = "11tokentokentoken"
)

type fake struct {
	t   *testing.T
	srv *jenkinstest.Server
	hc  *http.Client
}

func newFake(t *testing.T, opts jenkinstest.Options) *fake {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Token = user, token
	}
	srv, err := jenkinstest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &fake{t: t, srv: srv, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (f *fake) do(method, path string, form url.Values, hdr http.Header, auth bool) answer {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL()+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if auth {
		req.SetBasicAuth(user, token)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (f *fake) get(path string) answer { return f.do(http.MethodGet, path, nil, nil, true) }

func (f *fake) json(path string) map[string]any {
	f.t.Helper()
	a := f.get(path)
	if a.status != 200 {
		f.t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		f.t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

func TestAuthentication(t *testing.T) {
	f := newFake(t, jenkinstest.Options{})
	a := f.do(http.MethodGet, "api/json", nil, nil, false)
	if a.status != 403 || a.header.Get("X-You-Are-Authenticated-As") != "anonymous" || !strings.Contains(a.body, "<title>Error 403 Authentication required</title>") {
		t.Errorf("anonymous: %d %v %s", a.status, a.header, a.body)
	}
	wrong := http.Header{"Authorization": {"Basic " + "aGVyYWxkOm5vcGU="}} // herald:nope
	a = f.do(http.MethodGet, "api/json", nil, wrong, false)
	if a.status != 401 || a.header.Get("WWW-Authenticate") != `Basic realm="Jenkins"` ||
		!strings.Contains(a.body, "<title>Error 401 Invalid password/token for user: herald</title>") {
		t.Errorf("wrong token: %d %v %s", a.status, a.header, a.body)
	}
	if strings.Contains(a.body, "nope") {
		t.Error("the answer quotes the password")
	}
	if a := f.get("api/json"); a.status != 200 {
		t.Errorf("authenticated: %d", a.status)
	}
	// Without a user, security is off: anyone may read.
	srv, err := jenkinstest.New(jenkinstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get(srv.URL() + "api/json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("security off, anonymous: %d", resp.StatusCode)
	}
}

func TestTreeFilterAndRanges(t *testing.T) {
	f := newFake(t, jenkinstest.Options{})
	f.srv.AddJob("app/deploy", jenkinstest.JobOptions{})
	for range 5 {
		q := f.srv.Enqueue("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.TimerCause})
		n := f.srv.Start(q)
		f.srv.Finish("app/deploy", n, "SUCCESS")
	}
	v := f.json("api/json?tree=" + url.QueryEscape("jobs[name,jobs[name,builds[number]{1,3}]]"))
	want := map[string]any{"_class": "hudson.model.Hudson", "jobs": []any{map[string]any{
		"_class": "com.cloudbees.hudson.plugins.folder.Folder", "name": "app",
		"jobs": []any{map[string]any{"_class": "hudson.model.FreeStyleProject", "name": "deploy", "builds": []any{
			map[string]any{"_class": "hudson.model.FreeStyleBuild", "number": 4.0},
			map[string]any{"_class": "hudson.model.FreeStyleBuild", "number": 3.0},
		}}},
	}}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("tree\n got %v\nwant %v", v, want)
	}
	for tree, numbers := range map[string][]float64{
		"builds[number]{,2}": {5, 4}, "builds[number]{3,}": {2, 1}, "builds[number]{0}": {5}, "builds[number]{9,12}": {},
	} {
		v := f.json("job/app/job/deploy/api/json?tree=" + url.QueryEscape(tree))
		var got []float64
		for _, b := range v["builds"].([]any) {
			got = append(got, b.(map[string]any)["number"].(float64))
		}
		if len(got) != len(numbers) || (len(got) > 0 && !reflect.DeepEqual(got, numbers)) {
			t.Errorf("%s: %v, want %v", tree, got, numbers)
		}
	}
	if a := f.get("api/json?tree=" + url.QueryEscape("jobs[name")); a.status != 400 {
		t.Errorf("a bad tree: %d", a.status)
	}
	// Without a tree, nested jobs are shown by name, url and color only.
	v = f.json("job/app/api/json")
	job := v["jobs"].([]any)[0].(map[string]any)
	if _, ok := job["builds"]; ok || job["name"] != "deploy" || job["color"] != "blue" {
		t.Errorf("depth 0 job %v", job)
	}
}

func TestNotFound(t *testing.T) {
	f := newFake(t, jenkinstest.Options{})
	f.srv.AddJob("release", jenkinstest.JobOptions{})
	for _, p := range []string{"job/nope/api/json", "job/release/7/api/json", "job/release/7/wfapi/describe", "queue/item/9/api/json", "nothing"} {
		if a := f.get(p); a.status != 404 || !strings.Contains(a.body, "Error 404 Not Found") {
			t.Errorf("GET %s: %d %s", p, a.status, a.body)
		}
	}
	q := f.srv.Enqueue("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause})
	f.srv.Start(q)
	if a := f.get("job/release/1/wfapi/describe"); a.status != 404 {
		t.Errorf("wfapi of a freestyle build: %d", a.status)
	}
}

func TestCrumbs(t *testing.T) {
	f := newFake(t, jenkinstest.Options{CSRF: true, AutoStart: true})
	f.srv.AddJob("release", jenkinstest.JobOptions{})
	if a := f.do(http.MethodPost, "job/release/build", url.Values{}, nil, true); a.status != 403 ||
		!strings.Contains(a.body, "<title>Error 403 No valid crumb was included in the request</title>") {
		t.Errorf("POST without a crumb: %d %s", a.status, a.body)
	}
	c := f.json("crumbIssuer/api/json")
	if c["crumbRequestField"] != "Jenkins-Crumb" || c["crumb"] == "" {
		t.Fatalf("crumb %v", c)
	}
	hdr := http.Header{"Jenkins-Crumb": {c["crumb"].(string)}}
	a := f.do(http.MethodPost, "job/release/build", url.Values{}, hdr, true)
	if a.status != 201 || a.header.Get("Location") != f.srv.URL()+"queue/item/1/" {
		t.Errorf("POST with the crumb: %d %v", a.status, a.header)
	}
	// The crumb belongs to the session: another client's session has none.
	other := newFake(t, jenkinstest.Options{})
	other.srv = f.srv
	if a := other.do(http.MethodPost, "job/release/build", url.Values{}, hdr, true); a.status != 403 {
		t.Errorf("the crumb without its session: %d", a.status)
	}
	f.srv.ExpireSessions()
	if a := f.do(http.MethodPost, "job/release/build", url.Values{}, hdr, true); a.status != 403 {
		t.Errorf("the crumb after its session ended: %d", a.status)
	}
	off := newFake(t, jenkinstest.Options{})
	if a := off.get("crumbIssuer/api/json"); a.status != 404 {
		t.Errorf("the crumb issuer without CSRF: %d", a.status)
	}
}

func TestQueueItemBecomesABuild(t *testing.T) {
	f := newFake(t, jenkinstest.Options{})
	f.srv.AddJob("deploy", jenkinstest.JobOptions{Pipeline: true, Params: []jenkinstest.ParamDef{
		{Name: "TARGET", Type: jenkinstest.ParamChoice, Choices: []string{"staging", "production"}},
		{Name: "DRY_RUN", Type: jenkinstest.ParamBoolean, Default: "true"},
		{Name: "KEY", Type: jenkinstest.ParamPassword, Default: "hidden"},
	}})
	f.srv.AddJob("plain", jenkinstest.JobOptions{})
	if a := f.do(http.MethodPost, "job/deploy/build", url.Values{}, nil, true); a.status != 400 {
		t.Errorf("build of a parameterized job: %d", a.status)
	}
	if a := f.do(http.MethodPost, "job/plain/buildWithParameters", url.Values{}, nil, true); a.status != 400 {
		t.Errorf("buildWithParameters of a plain job: %d", a.status)
	}
	if a := f.do(http.MethodPost, "job/deploy/buildWithParameters", url.Values{"TARGET": {"moon"}}, nil, true); a.status != 400 ||
		!strings.Contains(a.body, "Illegal choice for parameter TARGET: moon") {
		t.Errorf("a bad choice: %d %s", a.status, a.body)
	}
	a := f.do(http.MethodPost, "job/deploy/buildWithParameters", url.Values{"TARGET": {"production"}}, nil, true)
	if a.status != 201 {
		t.Fatalf("buildWithParameters: %d %s", a.status, a.body)
	}
	loc, _ := url.Parse(a.header.Get("Location"))
	item := f.json(strings.TrimPrefix(loc.Path, "/") + "api/json")
	if item["_class"] != "hudson.model.Queue$BuildableItem" || item["executable"] != nil || item["why"] == nil {
		t.Errorf("waiting item %v", item)
	}
	n := f.srv.Start(1)
	item = f.json("queue/item/1/api/json")
	exe, _ := item["executable"].(map[string]any)
	if item["_class"] != "hudson.model.Queue$LeftItem" || exe["number"] != float64(n) || item["cancelled"] != false {
		t.Errorf("left item %v", item)
	}
	b := f.json("job/deploy/1/api/json")
	if b["building"] != true || b["result"] != nil || b["queueId"] != 1.0 {
		t.Errorf("running build %v", b)
	}
	params := b["actions"].([]any)[1].(map[string]any)["parameters"].([]any)
	wantParams := []any{
		map[string]any{"_class": "hudson.model.StringParameterValue", "name": "TARGET", "value": "production"},
		map[string]any{"_class": "hudson.model.BooleanParameterValue", "name": "DRY_RUN", "value": true},
		map[string]any{"_class": "hudson.model.PasswordParameterValue", "name": "KEY"},
	}
	if !reflect.DeepEqual(params, wantParams) {
		t.Errorf("parameters %v\nwant %v", params, wantParams)
	}
	f.srv.Stages("deploy", n, jenkinstest.Stage{Name: "Build", Status: "SUCCESS"}, jenkinstest.Stage{Name: "Test", Status: "IN_PROGRESS"})
	d := f.json("job/deploy/1/wfapi/describe")
	if d["status"] != "IN_PROGRESS" || len(d["stages"].([]any)) != 2 {
		t.Errorf("describe %v", d)
	}
	if a := f.do(http.MethodPost, "job/deploy/1/stop", url.Values{}, nil, true); a.status != 302 || a.header.Get("Location") != f.srv.URL()+"job/deploy/1/" {
		t.Errorf("stop: %d %v", a.status, a.header)
	}
	b = f.json("job/deploy/1/api/json")
	if b["building"] != false || b["result"] != "ABORTED" {
		t.Errorf("stopped build %v", b)
	}
	d = f.json("job/deploy/1/wfapi/describe")
	if d["status"] != "ABORTED" {
		t.Errorf("describe of the stopped build %v", d)
	}
	q := f.srv.Enqueue("plain", jenkinstest.Trigger{Cause: jenkinstest.TimerCause})
	f.srv.Cancel(q)
	item = f.json("queue/item/2/api/json")
	if item["cancelled"] != true || item["executable"] != nil {
		t.Errorf("cancelled item %v", item)
	}
}

func TestJobsAndComputers(t *testing.T) {
	f := newFake(t, jenkinstest.Options{})
	names := f.srv.AddMultibranch("org/web", false, "main", "feature/x")
	if !reflect.DeepEqual(names, []string{"org/web/main", "org/web/feature%2Fx"}) {
		t.Errorf("branch jobs %q", names)
	}
	j := f.json("job/org/job/web/job/feature%252Fx/api/json")
	if j["name"] != "feature%2Fx" || j["displayName"] != "feature/x" || j["fullName"] != "org/web/feature%2Fx" ||
		j["url"] != f.srv.URL()+"job/org/job/web/job/feature%252Fx/" || j["color"] != "notbuilt" {
		t.Errorf("branch job %v", j)
	}
	mb := f.json("job/org/job/web/api/json?tree=name")
	if mb["_class"] != "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject" {
		t.Errorf("multibranch %v", mb)
	}
	f.srv.SetNodes(jenkinstest.Node{Name: "Built-In Node", Executors: 2, Idle: true}, jenkinstest.Node{Name: "agent", Executors: 1, Offline: true})
	c := f.json("computer/api/json?tree=" + url.QueryEscape("computer[displayName,offline,idle]"))
	want := []any{
		map[string]any{"_class": "hudson.model.Hudson$MasterComputer", "displayName": "Built-In Node", "offline": false, "idle": true},
		map[string]any{"_class": "hudson.slaves.SlaveComputer", "displayName": "agent", "offline": true, "idle": false},
	}
	if !reflect.DeepEqual(c["computer"], want) {
		t.Errorf("computers %v", c["computer"])
	}
}

func TestNotificationsPostedInOrder(t *testing.T) {
	got := make(chan string, 10)
	hook := http.NewServeMux()
	hook.HandleFunc("POST /hook", func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		var n struct {
			Name  string `json:"name"`
			URL   string `json:"url"`
			Build struct {
				Phase   string            `json:"phase"`
				Number  int               `json:"number"`
				Status  string            `json:"status"`
				FullURL string            `json:"full_url"`
				QueueID int64             `json:"queue_id"`
				Params  map[string]string `json:"parameters"`
				SCM     struct {
					Commit string `json:"commit"`
				} `json:"scm"`
			} `json:"build"`
		}
		_ = json.NewDecoder(r.Body).Decode(&n)
		got <- strings.Join([]string{u + ":" + p, r.Header.Get("Content-Type"), n.Name, n.URL, n.Build.Phase, n.Build.Status,
			n.Build.FullURL, n.Build.SCM.Commit, n.Build.Params["TARGET"]}, " ")
		w.Write([]byte("thanks"))
	})
	srvHook := httptestServer(t, hook)
	f := newFake(t, jenkinstest.Options{NotifyURL: "http://herald:s%2Fcret@" + strings.TrimPrefix(srvHook, "http://") + "/hook"})
	f.srv.AddJob("app/deploy", jenkinstest.JobOptions{Notify: true, Params: []jenkinstest.ParamDef{
		{Name: "TARGET", Type: jenkinstest.ParamString, Default: "staging"}, {Name: "KEY", Type: jenkinstest.ParamPassword}}})
	f.srv.DropNotifications(1)
	q := f.srv.Enqueue("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.SCMCause, SHA: "abc", Branch: "origin/main"})
	n := f.srv.Start(q)
	f.srv.Finish("app/deploy", n, "FAILURE")
	root := f.srv.URL()
	want := []string{
		"herald:s%2Fcret application/json;charset=UTF-8 deploy job/app/job/deploy/ STARTED  " + root + "job/app/job/deploy/1/ abc staging",
		"herald:s%2Fcret application/json;charset=UTF-8 deploy job/app/job/deploy/ COMPLETED FAILURE " + root + "job/app/job/deploy/1/ abc staging",
		"herald:s%2Fcret application/json;charset=UTF-8 deploy job/app/job/deploy/ FINALIZED FAILURE " + root + "job/app/job/deploy/1/ abc staging",
	}
	for i, w := range want {
		select {
		case g := <-got:
			if g != w {
				t.Errorf("post %d\n got %q\nwant %q", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("post %d did not come", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.WaitFor(ctx, func() bool { ns := f.srv.Notifications(); return len(ns) == 4 && ns[3].Done }); err != nil {
		t.Fatal(err)
	}
	ns := f.srv.Notifications()
	if !ns[0].Dropped || ns[0].Phase != "QUEUED" || ns[1].Status != 200 || ns[1].Answer != "thanks" {
		t.Errorf("notifications %+v", ns)
	}
	if strings.Contains(string(ns[1].Body), "KEY") {
		t.Errorf("a password parameter is in the post: %s", ns[1].Body)
	}
	f.srv.Redeliver(1)
	select {
	case g := <-got:
		if g != want[0] {
			t.Errorf("redelivery %q", g)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the redelivery did not come")
	}
}

// The plugin hears of a build when it starts: QUEUED comes then, with the number, and a
// cancelled queue item posts nothing. A Pipeline's posts carry no scm (the git plugin
// sets no GIT_* variables in its environment).
func TestQueuedPostedAtStartAndPipelineScmEmpty(t *testing.T) {
	f := newFake(t, jenkinstest.Options{})
	f.srv.AddJob("pipe", jenkinstest.JobOptions{Pipeline: true, Notify: true})
	f.srv.Cancel(f.srv.Enqueue("pipe", jenkinstest.Trigger{Cause: jenkinstest.SCMCause}))
	q := f.srv.Enqueue("pipe", jenkinstest.Trigger{Cause: jenkinstest.SCMCause, SHA: "abc", Branch: "origin/main"})
	if ns := f.srv.Notifications(); len(ns) != 0 {
		t.Fatalf("posts before the build started: %+v", ns)
	}
	f.srv.Start(q)
	ns := f.srv.Notifications()
	if len(ns) != 2 || ns[0].Phase != "QUEUED" || ns[1].Phase != "STARTED" {
		t.Fatalf("posts %+v; want QUEUED, STARTED", ns)
	}
	for _, n := range ns {
		var body struct {
			Build struct {
				Number  int            `json:"number"`
				QueueID int64          `json:"queue_id"`
				SCM     map[string]any `json:"scm"`
			} `json:"build"`
		}
		if err := json.Unmarshal(n.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Build.Number != 1 || body.Build.QueueID != q || len(body.Build.SCM) != 0 {
			t.Errorf("%s posted %s; want build 1 of queue item %d, scm empty", n.Phase, n.Body, q)
		}
	}
}

// A job's builds field lists its newest 100 builds, whatever range the tree asks for.
func TestBuildsListedAreTheNewest100(t *testing.T) {
	f := newFake(t, jenkinstest.Options{AutoStart: true})
	f.srv.AddJob("busy", jenkinstest.JobOptions{})
	for range 105 {
		q := f.srv.Enqueue("busy", jenkinstest.Trigger{Cause: jenkinstest.TimerCause})
		f.srv.Finish("busy", f.srv.QueuedBuild(q), "SUCCESS")
	}
	j := f.json("job/busy/api/json?tree=" + url.QueryEscape("builds[number]{0,110}"))
	bs, _ := j["builds"].([]any)
	if len(bs) != 100 || bs[0].(map[string]any)["number"] != 105.0 || bs[99].(map[string]any)["number"] != 6.0 {
		t.Errorf("%d builds listed; want #105 to #6", len(bs))
	}
}
