package gitlab_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
)

const testSecret = "glhook-It's a Secret"

var testNow = time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)

func newParser(attempt gitlab.AttemptFunc, projects ...string) *gitlab.Parser {
	if len(projects) == 0 {
		projects = []string{"acme/app"}
	}
	return gitlab.NewParser(gitlab.ParserConfig{
		Conn: "gl", Projects: projects, Secret: testSecret, Attempt: attempt,
		Clock: func() time.Time { return testNow },
	})
}

func hookHeader(event string) http.Header {
	h := http.Header{}
	h.Set("X-Gitlab-Event", event)
	h.Set("X-Gitlab-Token", testSecret)
	h.Set("X-Gitlab-Event-UUID", "13792a34-cac6-4bda-95a8-c58c0d5c4b2b")
	h.Set("X-Gitlab-Webhook-UUID", "5e1f9c2a-2a7c-4b38-8f7a-1f2d3c4b5a69")
	h.Set("X-Gitlab-Instance", "https://gitlab.example.com")
	h.Set("Content-Type", "application/json")
	return h
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseWebhook(t *testing.T) {
	base := ci.Build{
		Conn: "gl", ID: "4711/1", RequestID: "4711/1", Number: 12, Attempt: 1, Builder: "app", BuilderID: "acme/app",
		Branch: "main", Revision: "9f2c1e0b7d6a5c4b3a29180f7e6d5c4b3a291807", Owner: "grace", Author: "Ada Lovelace",
		Reason: "Speed up the cache", StartedAt: at("2026-11-30T09:00:11Z"),
		URL: "https://gitlab.example.com/acme/app/-/pipelines/4711",
	}
	with := func(f func(b *ci.Build)) *ci.Build {
		b := base
		f(&b)
		return &b
	}
	tests := []struct {
		name    string
		fixture string
		attempt gitlab.AttemptFunc
		kind    ci.Kind
		at      time.Time
		build   *ci.Build
	}{
		{"success", "pipeline_success.json", nil, ci.KindFinished, at("2026-11-30T09:04:41Z"), with(func(b *ci.Build) {
			b.Complete, b.Result, b.StateText, b.FinishedAt = true, ci.ResultSuccess, "success", at("2026-11-30T09:04:41Z")
		})},
		{"failed names the first job that failed and was not allowed to", "pipeline_failed.json", nil, ci.KindFinished, at("2026-11-30T09:03:30Z"), with(func(b *ci.Build) {
			b.Complete, b.Result, b.StateText, b.FinishedAt = true, ci.ResultFailure, "failed", at("2026-11-30T09:03:30Z")
			b.FailedStep = "test / unit"
		})},
		{"a failed job allowed to fail is warnings", "pipeline_warnings.json", nil, ci.KindFinished, at("2026-11-30T09:04:41Z"), with(func(b *ci.Build) {
			b.Complete, b.Result, b.StateText, b.FinishedAt = true, ci.ResultWarnings, "success with warnings", at("2026-11-30T09:04:41Z")
			b.FailedStep = "test / lint"
		})},
		{"canceled", "pipeline_canceled.json", nil, ci.KindFinished, at("2026-11-30T09:01:00Z"), with(func(b *ci.Build) {
			b.Complete, b.Result, b.StateText, b.FinishedAt = true, ci.ResultCancelled, "canceled", at("2026-11-30T09:01:00Z")
		})},
		{"running names its running job", "pipeline_running.json", nil, ci.KindStarted, at("2026-11-30T09:00:11Z"), with(func(b *ci.Build) {
			b.StateText, b.CurrentStep = "running", "test / unit"
		})},
		{"pending started when it was made", "pipeline_pending.json", nil, ci.KindStarted, at("2026-11-30T09:00:05Z"), with(func(b *ci.Build) {
			b.StateText, b.StartedAt = "pending", at("2026-11-30T09:00:05Z")
		})},
		{"a retried pipeline's second run is a build of its own", "pipeline_success.json",
			func(project string, id int64, jobs []int64) (int, time.Time, error) {
				if project != "acme/app" || id != 4711 || fmt.Sprint(jobs) != "[902 901 900]" {
					t.Errorf("attempt asked for %s %d %v", project, id, jobs)
				}
				return 2, at("2026-11-30T09:02:30Z"), nil
			},
			ci.KindFinished, at("2026-11-30T09:04:41Z"), with(func(b *ci.Build) {
				b.ID, b.RequestID, b.Attempt, b.StartedAt = "4711/2", "4711/2", 2, at("2026-11-30T09:02:30Z")
				b.Complete, b.Result, b.StateText, b.FinishedAt = true, ci.ResultSuccess, "success", at("2026-11-30T09:04:41Z")
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := newParser(tt.attempt).ParseWebhook(hookHeader("Pipeline Hook"), fixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if d.ID != "13792a34-cac6-4bda-95a8-c58c0d5c4b2b" {
				t.Errorf("delivery id %q", d.ID)
			}
			if len(d.Events) != 1 {
				t.Fatalf("%d events", len(d.Events))
			}
			ev := d.Events[0]
			if ev.Conn != "gl" || ev.Kind != tt.kind || !ev.At.Equal(tt.at) {
				t.Errorf("event %s %s at %s, want gl %s at %s", ev.Conn, ev.Kind, ev.At, tt.kind, tt.at)
			}
			if !reflect.DeepEqual(ev.Build, tt.build) {
				t.Errorf("build\n got %+v\nwant %+v", *ev.Build, *tt.build)
			}
		})
	}
}

func TestParseWebhookPrefixesBuildersWithSeveralProjects(t *testing.T) {
	d, err := newParser(nil, "acme/app", "acme/sub/lib").ParseWebhook(hookHeader("Pipeline Hook"), fixture(t, "pipeline_success.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b := d.Events[0].Build; b.Builder != "acme/app" {
		t.Errorf("builder %q, want acme/app", b.Builder)
	}
}

func TestParseWebhookIdempotencyKeyIsTheDeliveryID(t *testing.T) {
	h := hookHeader("Pipeline Hook")
	h.Set("Idempotency-Key", "c1b8f5a6-0d6b-4a43-9e3c-3d1b8a2e7f10")
	d, err := newParser(nil).ParseWebhook(h, fixture(t, "pipeline_success.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "c1b8f5a6-0d6b-4a43-9e3c-3d1b8a2e7f10" {
		t.Errorf("delivery id %q, want the Idempotency-Key", d.ID)
	}
}

func TestParseWebhookRefusals(t *testing.T) {
	body := fixture(t, "pipeline_success.json")
	tests := []struct {
		name   string
		header func(h http.Header)
		secret string
		body   []byte
		is     error  // nil: a malformed delivery (400)
		reason string // ci.Reason of the error, verbatim
	}{
		{"no token", func(h http.Header) { h.Del("X-Gitlab-Token") }, testSecret, body, ci.ErrBadSignature, "no X-Gitlab-Token header"},
		{"wrong token", func(h http.Header) { h.Set("X-Gitlab-Token", testSecret+"x") }, testSecret, body, ci.ErrBadSignature,
			"X-Gitlab-Token does not match the connection's webhook secret"},
		{"no secret configured", func(http.Header) {}, "", body, ci.ErrBadSignature, "no webhook secret is configured for this connection"},
		{"wrong token before a broken body", func(h http.Header) { h.Set("X-Gitlab-Token", "nope") }, testSecret, []byte("{"), ci.ErrBadSignature,
			"X-Gitlab-Token does not match the connection's webhook secret"},
		{"job hook", func(h http.Header) { h.Set("X-Gitlab-Event", "Job Hook") }, testSecret, fixture(t, "job.json"), ci.ErrIgnoreEvent,
			"Job Hook: job progress is read from the API"},
		{"push hook", func(h http.Header) { h.Set("X-Gitlab-Event", "Push Hook") }, testSecret, []byte(`{"object_kind":"push"}`), ci.ErrIgnoreEvent,
			"event Push Hook is not followed"},
		{"project not followed", func(http.Header) {}, testSecret, fixture(t, "pipeline_other_project.json"), ci.ErrIgnoreEvent,
			"project acme/other is not followed"},
		{"manual", func(http.Header) {}, testSecret, fixture(t, "pipeline_manual.json"), ci.ErrIgnoreEvent,
			"pipeline status manual is neither started nor finished"},
		{"child pipeline", func(http.Header) {}, testSecret, fixture(t, "pipeline_child.json"), ci.ErrIgnoreEvent,
			"pipeline 4712 is a child pipeline; its parent is followed"},
		{"no event header", func(h http.Header) { h.Del("X-Gitlab-Event") }, testSecret, body, nil, "gitlab: no X-Gitlab-Event header"},
		{"not JSON", func(http.Header) {}, testSecret, []byte("{"), nil, "gitlab: Pipeline Hook: unexpected end of JSON input"},
		{"no project", func(http.Header) {}, testSecret, []byte(`{"object_kind":"pipeline","object_attributes":{"id":1,"status":"success"}}`), nil,
			"gitlab: Pipeline Hook: no project.path_with_namespace"},
		{"bad time", func(http.Header) {}, testSecret, []byte(strings.Replace(string(body), `"2026-11-30 09:04:41 UTC"`, `"yesterday"`, 1)), nil,
			`gitlab: Pipeline Hook: time "yesterday" is not GitLab's`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hookHeader("Pipeline Hook")
			tt.header(h)
			p := gitlab.NewParser(gitlab.ParserConfig{Conn: "gl", Projects: []string{"acme/app"}, Secret: tt.secret, Clock: func() time.Time { return testNow }})
			_, err := p.ParseWebhook(h, tt.body)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want %v", err, tt.is)
			}
			if tt.is == nil && (errors.Is(err, ci.ErrBadSignature) || errors.Is(err, ci.ErrIgnoreEvent)) {
				t.Errorf("error %v, want a malformed delivery", err)
			}
			if got := ci.Reason(err); got != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("the error quotes the secret: %v", err)
			}
		})
	}
}

func TestParseWebhookAttemptUnreadableIsLeftToThePoll(t *testing.T) {
	p := newParser(func(string, int64, []int64) (int, time.Time, error) { return 0, time.Time{}, errors.New("down") })
	_, err := p.ParseWebhook(hookHeader("Pipeline Hook"), fixture(t, "pipeline_success.json"))
	if !errors.Is(err, ci.ErrIgnoreEvent) {
		t.Fatalf("error %v, want ignored", err)
	}
	if got, want := ci.Reason(err), "the run of pipeline 4711 could not be read from the API; the next poll reports it"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}
