package github_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

// A completed run's payload names no job or step: the provider asks for the attempt's jobs,
// so a delivered failure says which step failed, as a polled one does. A success costs no
// request; a GitHub that refuses the jobs list leaves the event without its step, not lost.
func TestWebhookFailureNamesTheFailedStep(t *testing.T) {
	const secret = "hook-secret"
	e := newEnv(t, githubtest.Options{WebhookSecret: secret})
	p := e.provider(func(c *github.Config) { c.WebhookSecret = secret })
	failed := e.run("acme/widgets", e.ci, "failure", "test", "go test ./...")
	passed := e.run("acme/widgets", e.ci, "success", "test", "go test ./...")

	completed := func(runID int64) githubtest.Delivery {
		t.Helper()
		for _, d := range e.srv.Deliveries() {
			if d.Event == "workflow_run" && d.Action == "completed" && containsRun(d.Body, runID) {
				return d
			}
		}
		t.Fatalf("no completed delivery of run %d", runID)
		return githubtest.Delivery{}
	}
	parse := func(d githubtest.Delivery) ci.Build {
		t.Helper()
		h := http.Header{}
		h.Set("X-GitHub-Event", d.Event)
		h.Set("X-GitHub-Delivery", d.ID)
		h.Set("X-Hub-Signature-256", "sha256="+githubtest.Sign(sha256.New, secret, d.Body))
		got, err := p.ParseWebhook(h, d.Body)
		if err != nil || len(got.Events) != 1 || got.Events[0].Build == nil {
			t.Fatalf("ParseWebhook = %+v, %v; want one build event", got, err)
		}
		return *got.Events[0].Build
	}

	before := e.srv.Stats().Total
	if b := parse(completed(passed)); b.FailedStep != "" || b.Result != ci.ResultSuccess {
		t.Errorf("success: %+v; want no failed step", b)
	}
	if n := e.srv.Stats().Total - before; n != 0 {
		t.Errorf("a delivered success cost %d requests; want none", n)
	}
	if b := parse(completed(failed)); b.FailedStep != "test / go test ./..." || b.Result != ci.ResultFailure {
		t.Errorf("failure: result %s, failed step %q; want failure at \"test / go test ./...\"", b.Result, b.FailedStep)
	}

	e.srv.Limit(1, http.StatusForbidden, 0)
	if b := parse(completed(failed)); b.FailedStep != "" || b.Result != ci.ResultFailure {
		t.Errorf("with the jobs list refused: %+v; want the failure without a step", b)
	}
}

// containsRun says whether a workflow_run delivery is about run id.
func containsRun(body []byte, id int64) bool {
	var p struct {
		Run struct {
			ID int64 `json:"id"`
		} `json:"workflow_run"`
	}
	return json.Unmarshal(body, &p) == nil && p.Run.ID == id
}

// GitHub stamps whole seconds and lists newest first: two runs that finish in the same second
// are caught up in the order they were made, so a fix is classified after its failure.
func TestChangesInTheSameSecondOldestFirst(t *testing.T) {
	e := newEnv(t, githubtest.Options{})
	p := e.provider(nil)
	since := e.clock.Now()
	e.clock.Add(time.Second)
	first := e.srv.QueueRun("acme/widgets", e.ci, githubtest.RunOptions{})
	second := e.srv.QueueRun("acme/widgets", e.ci, githubtest.RunOptions{})
	e.srv.StartRun(first, "test", "go test")
	e.srv.StartRun(second, "test", "go test")
	e.srv.CompleteRun(first, "failure", "test", "go test")
	e.srv.CompleteRun(second, "success", "", "")
	bs, err := p.BuildsChangedSince(context.Background(), since)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(bs), []string{github.BuildID(first, 1), github.BuildID(second, 1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("changed builds %v; want %v, the older first", got, want)
	}
}
