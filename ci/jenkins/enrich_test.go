package jenkins_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
)

// A post names neither who started the build nor its failed stage: the provider reads the
// build from the API and delivers it as a poll would give it.
func TestPostedBuildIsReadFromTheAPI(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	e.srv.AddJob("pipe", jenkinstest.JobOptions{Pipeline: true, Notify: true})
	p := e.provider(func(c *jenkins.Config) { c.WebhookSecret = testSecret })
	n := e.play("pipe", jenkinstest.Trigger{Cause: jenkinstest.UserCause("bob")}, "")
	e.srv.Stages("pipe", n, jenkinstest.Stage{Name: "Migrate", Status: "FAILED"})
	e.srv.Finish("pipe", n, "FAILURE")

	var got []ci.Build
	before := len(e.srv.Requests())
	for _, note := range e.srv.Notifications() {
		if note.Phase != "COMPLETED" && note.Phase != "STARTED" {
			continue
		}
		d, err := p.ParseWebhook(basic("herald", testSecret), note.Body)
		if err != nil || len(d.Events) != 1 {
			t.Fatalf("%s: %v, %+v", note.Phase, err, d)
		}
		got = append(got, *d.Events[0].Build)
	}
	// The build for each post, and the failed stage once: a running build's stage is not
	// worth a request.
	if reqs := e.srv.Requests()[before:]; len(reqs) != 3 {
		t.Errorf("the posts asked %q; want the build twice, the stages once", reqs)
	}
	polled, err := p.Build(ctx(t), jenkins.BuildID("pipe", n))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("builds %+v", got)
	}
	for _, b := range got {
		if b.ID != polled.ID || b.Owner != "bob" || b.Reason != polled.Reason || b.Branch != polled.Branch ||
			!b.StartedAt.Equal(polled.StartedAt) {
			t.Errorf("posted build %+v\nwant as polled %+v", b, polled)
		}
	}
	if fin := got[1]; !fin.Complete || fin.Result != ci.ResultFailure || fin.FailedStep != "Migrate" || !fin.FinishedAt.Equal(polled.FinishedAt) {
		t.Errorf("finished build %+v; want the failure in Migrate, finished as polled", fin)
	}
}

// When Jenkins does not answer, the post goes on as posted.
func TestPostedBuildWhenJenkinsIsDown(t *testing.T) {
	down := httptest.NewServer(nil)
	down.Close()
	p, err := jenkins.New(jenkins.Config{Name: "jk", URL: down.URL + "/", Auth: jenkins.Auth{Kind: "none"}, WebhookSecret: testSecret,
		Clock: func() time.Time { return time.Date(2026, 12, 1, 10, 10, 0, 0, time.UTC) }}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.ParseWebhook(basic("herald", testSecret), fixture(t, "notification_completed_failure.json"))
	if err != nil || len(d.Events) != 1 {
		t.Fatalf("%v, %+v", err, d)
	}
	if b := d.Events[0].Build; b.ID != "app/deploy#42@q1307" || !b.Complete || b.Result != ci.ResultFailure || b.Owner != "" {
		t.Errorf("build %+v; want the post's", b)
	}
}
