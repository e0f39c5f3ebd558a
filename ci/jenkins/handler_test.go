package jenkins_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
	"github.com/herald-ci/herald/ci/jenkins/jenkinstest"
	"github.com/herald-ci/herald/ci/webhook"
)

// memSink keeps the events delivered, once per key, as herald's store does.
type memSink struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []ci.Event
}

func (s *memSink) Deliver(_ context.Context, ev ci.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[ev.Key()] {
		s.seen[ev.Key()] = true
		s.events = append(s.events, ev)
	}
	return nil
}

func (s *memSink) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.events {
		b := ev.Build
		out = append(out, fmt.Sprintf("%s %s %s %s", ev.Kind, b.ID, b.Branch, b.Result))
	}
	return out
}

type noDeliveries struct{}

func (noDeliveries) DeliverySeen(context.Context, string, string) (bool, error) { return false, nil }
func (noDeliveries) RecordDelivery(context.Context, string, string) error       { return nil }

// TestNotificationsThroughHandler plays builds on the fake Jenkins, whose Notification
// plugin posts to herald's webhook handler with the provider behind it: the answers the
// plugin gets, and the events stored.
func TestNotificationsThroughHandler(t *testing.T) {
	sink := &memSink{}
	var p *jenkins.Provider
	mux := http.NewServeMux()
	herald := httptest.NewServer(mux)
	t.Cleanup(herald.Close)
	u, _ := url.Parse(herald.URL + "/ci/jk/webhook")
	u.User = url.UserPassword("herald", testSecret)

	e := newEnv(t, jenkinstest.Options{NotifyURL: u.String()})
	e.srv.AddJob("nightly", jenkinstest.JobOptions{Notify: true})
	web := e.srv.AddMultibranch("lib", true, "main")
	p = e.provider(func(c *jenkins.Config) { c.WebhookSecret = testSecret })
	mux.Handle("POST /ci/{conn}/webhook", webhook.New(map[string]ci.WebhookParser{"jk": p}, sink, noDeliveries{}, webhook.Options{}, zerolog.Nop()))
	if _, err := p.Builders(ctx(t)); err != nil { // the poll that learns lib/main is a branch job
		t.Fatal(err)
	}

	e.play("nightly", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "FAILURE")
	e.play(web[0], jenkinstest.Trigger{Cause: jenkinstest.SCMCause}, "SUCCESS")
	e.srv.DropNotifications(1) // nightly's QUEUED
	e.play("nightly", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "SUCCESS")
	// 4 posts per build, the dropped one among them
	if err := e.srv.WaitFor(ctx(t), func() bool { return doneCount(e.srv.Notifications()) == 12 }); err != nil {
		t.Fatal(err)
	}
	e.srv.Redeliver(2) // nightly #1's COMPLETED again
	if err := e.srv.WaitFor(ctx(t), func() bool { return doneCount(e.srv.Notifications()) == 13 }); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, n := range e.srv.Notifications() {
		if n.Dropped {
			answers = append(answers, n.Phase+" dropped")
			continue
		}
		answers = append(answers, fmt.Sprintf("%s %d %s", n.Phase, n.Status, strings.TrimSpace(n.Answer)))
	}
	want := []string{
		"QUEUED 200 ignored: phase QUEUED: herald reports builds when they start",
		"STARTED 200 ok: 1 events stored",
		"COMPLETED 200 ok: 1 events stored",
		"FINALIZED 200 ok: 1 events stored",
		"QUEUED 200 ignored: phase QUEUED: herald reports builds when they start",
		"STARTED 200 ok: 1 events stored",
		"COMPLETED 200 ok: 1 events stored",
		"FINALIZED 200 ok: 1 events stored",
		"QUEUED dropped",
		"STARTED 200 ok: 1 events stored",
		"COMPLETED 200 ok: 1 events stored",
		"FINALIZED 200 ok: 1 events stored",
		"COMPLETED 200 ok: 1 events stored",
	}
	if strings.Join(answers, "\n") != strings.Join(want, "\n") {
		t.Errorf("answers\n%s\nwant\n%s", strings.Join(answers, "\n"), strings.Join(want, "\n"))
	}
	wantEvents := []string{
		"started nightly#1@q1  ", "finished nightly#1@q1  failure",
		"started lib/main#1@q2 main ", "finished lib/main#1@q2 main success",
		"started nightly#2@q3  ", "finished nightly#2@q3  success",
	}
	if got := sink.list(); strings.Join(got, "\n") != strings.Join(wantEvents, "\n") {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantEvents, "\n"))
	}

	// Another secret: 401, with the reason and never the secret.
	r, _ := http.NewRequest(http.MethodPost, herald.URL+"/ci/jk/webhook", strings.NewReader(`{}`))
	r.SetBasicAuth("herald", "SECRETguess")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret answered %d", resp.StatusCode)
	}
}

func doneCount(ns []jenkinstest.Notification) int {
	n := 0
	for _, x := range ns {
		if x.Done {
			n++
		}
	}
	return n
}

func TestOverview(t *testing.T) {
	e := newEnv(t, jenkinstest.Options{})
	p := e.provider(nil)
	e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "FAILURE")
	e.play("release", jenkinstest.Trigger{Cause: jenkinstest.TimerCause}, "SUCCESS")
	n := e.play(e.web[0], jenkinstest.Trigger{Cause: jenkinstest.SCMCause}, "")
	e.srv.Stages(e.web[0], n, jenkinstest.Stage{Name: "Approve", Status: "PAUSED_PENDING_INPUT"})
	ov, err := p.Overview(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Builders) != 4 || len(ov.Running) != 1 || ov.Running[0].CurrentStep != "Approve (waiting for input)" {
		t.Errorf("overview %+v", ov)
	}
	if len(ov.Last) != 1 || ov.Last["release"].Number != 2 || ov.Last["release"].Result != ci.ResultSuccess {
		t.Errorf("last %+v", ov.Last)
	}
}
