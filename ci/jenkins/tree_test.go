package jenkins

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

var treeNow = time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)

func TestTreeFixture(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "tree_folders.json"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := decodeTree(body)
	if err != nil {
		t.Fatal(err)
	}
	jobs, tooDeep := flatten(root.Jobs)
	if tooDeep {
		t.Error("too deep")
	}
	var got []ci.Build
	for _, j := range jobs {
		for _, b := range j.JSON.Builds {
			if cb, ok := toBuild("jk", j, b, treeNow); ok {
				got = append(got, cb)
			}
		}
	}
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	want := []ci.Build{
		{Conn: "jk", ID: "app/deploy#43@q1320", Number: 43, Builder: "app/deploy", BuilderID: "app/deploy", RequestID: "queue/1320",
			Branch: "release-1.2", Revision: "9f2c1e7d4b5a6c8e0f1a2b3c4d5e6f7a8b9c0d1e", Owner: "Alice Smith", Reason: "Started by user Alice Smith",
			StartedAt: ms(1796119800000), StateText: "building", URL: "https://jenkins.example.com/job/app/job/deploy/43/"},
		{Conn: "jk", ID: "app/deploy#42@q1307", Number: 42, Builder: "app/deploy", BuilderID: "app/deploy", RequestID: "queue/1307",
			Branch: "main", Revision: "1111111111111111111111111111111111111111", Owner: "timer", Reason: "Started by timer",
			StartedAt: ms(1796119200000), FinishedAt: ms(1796119500000), Complete: true, Result: ci.ResultFailure, StateText: "failure",
			URL: "https://jenkins.example.com/job/app/job/deploy/42/"},
		{Conn: "jk", ID: "app/web/feature%2Fx#7@q1311", Number: 7, Builder: "app/web/feature%2Fx", BuilderID: "app/web/feature%2Fx", RequestID: "queue/1311",
			Branch: "feature/x", Revision: "0123456789abcdef0123456789abcdef01234567", Reason: "Branch indexing",
			StartedAt: ms(1796119200000), FinishedAt: ms(1796119260000), Complete: true, Result: ci.ResultSuccess, StateText: "success",
			URL: "https://jenkins.example.com/job/app/job/web/job/feature%252Fx/7/"},
		{Conn: "jk", ID: "release#3@q1200", Number: 3, Builder: "release", BuilderID: "release", RequestID: "queue/1200",
			Branch: "hotfix", Owner: "SCM change", Reason: "Started by an SCM change",
			StartedAt: ms(1796118000000), FinishedAt: ms(1796118001000), Complete: true, Result: ci.ResultSkipped, StateText: "not_built",
			URL: "https://jenkins.example.com/job/release/3/"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("builds\n got %+v\nwant %+v", got, want)
	}
	if jobs[2].JSON.Buildable == nil || *jobs[2].JSON.Buildable {
		t.Errorf("release is disabled: %+v", jobs[2].JSON)
	}
}

func TestJobsTreeNamesEveryLevel(t *testing.T) {
	tree := jobsTree(10, "")
	if n := strings.Count(tree, "jobs["); n != maxFolderDepth+1 {
		t.Errorf("%d levels of jobs in %s", n, tree)
	}
	if n := strings.Count(tree, "builds["+buildTree+"]{0,10}"); n != maxFolderDepth+1 {
		t.Errorf("%d levels with builds in %s", n, tree)
	}
	if strings.Count(tree, "[") != strings.Count(tree, "]") {
		t.Errorf("unbalanced: %s", tree)
	}
	if strings.Contains(jobsTree(0, ""), "builds") {
		t.Error("a tree of 0 builds asks for builds")
	}
}

func TestFlattenStopsAtTheDepthLimit(t *testing.T) {
	deep := jobJSON{Class: "com.cloudbees.hudson.plugins.folder.Folder", Name: "f"}
	for range maxFolderDepth {
		deep = jobJSON{Class: "com.cloudbees.hudson.plugins.folder.Folder", Name: "f", Jobs: []jobJSON{deep}}
	}
	jobs, tooDeep := flatten([]jobJSON{deep, {Class: "hudson.model.FreeStyleProject", Name: "top"}})
	if !tooDeep || len(jobs) != 1 || jobs[0].FullName != "top" {
		t.Errorf("jobs %+v, too deep %v", jobs, tooDeep)
	}
}

func TestGitBranch(t *testing.T) {
	for in, want := range map[string]string{
		"refs/remotes/origin/main": "main", "refs/remotes/upstream/feature/x": "feature/x", "origin/release-1.2": "release-1.2",
		"refs/heads/dev": "dev", "feature/x": "feature/x", "": "",
	} {
		if got := gitBranch(in); got != want {
			t.Errorf("gitBranch(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzTree feeds the tree reader anything: it must never panic, and what it makes must be
// cleaned.
func FuzzTree(f *testing.F) {
	body, err := os.ReadFile(filepath.Join("testdata", "tree_folders.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte(`{"jobs":[{"name":"a","jobs":[{"name":"b\u0000","builds":[{"number":1,"result":"X","timestamp":99999999999999}]}]}]}`))
	f.Add([]byte(`{"jobs":[{"name":"","builds":[{"number":-1}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		root, err := decodeTree(body)
		if err != nil {
			return
		}
		jobs, _ := flatten(root.Jobs)
		for _, j := range jobs {
			for _, jb := range j.JSON.Builds {
				b, ok := toBuild("jk", j, jb, treeNow)
				if !ok {
					continue
				}
				if clean := ci.CleanBuild(b, treeNow); !reflect.DeepEqual(clean, b) {
					t.Errorf("build not cleaned:\n got %+v\nwant %+v", b, clean)
				}
				if b.Complete && !b.Result.Valid() {
					t.Errorf("finished with result %q", b.Result)
				}
				if b.Number <= 0 || b.ID == "" {
					t.Errorf("build without number or id: %+v", b)
				}
			}
		}
	})
}
