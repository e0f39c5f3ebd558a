package github_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
)

const testSecret = "It's a Secret to Everybody"

var testNow = time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)

func newParser(repos ...string) *github.Parser {
	if len(repos) == 0 {
		repos = []string{"acme/widgets"}
	}
	return github.NewParser(github.ParserConfig{
		Conn: "gh", Repos: repos, Secret: testSecret,
		Clock: func() time.Time { return testNow },
	})
}

func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func signedHeader(event string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-Hub-Signature-256", sign(body, testSecret))
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

// withConclusion is the failure fixture with another conclusion, so each row of the
// result table is read from a realistic payload.
func withConclusion(t testing.TB, c string) []byte {
	b := fixture(t, "workflow_run_completed_failure.json")
	out := strings.Replace(string(b), `"conclusion": "failure"`, `"conclusion": "`+c+`"`, 1)
	if out == string(b) {
		t.Fatal("the failure fixture has no failure conclusion")
	}
	return []byte(out)
}

func TestParseWebhook(t *testing.T) {
	started := ci.Build{
		Conn: "gh", ID: "11223344/1", RequestID: "11223344/1", Number: 412, Attempt: 1, Builder: "CI", BuilderID: "61234501",
		Branch: "main", Revision: "4f1c2e9d8b7a6f5e4d3c2b1a09f8e7d6c5b4a392", Owner: "mona",
		Author: "Mona Lisa", Reason: "Fix the flaky cache test",
		StartedAt: at("2026-11-30T14:02:15Z"), URL: "https://github.com/acme/widgets/actions/runs/11223344",
	}
	failed := started
	failed.ID, failed.RequestID, failed.Number, failed.URL = "11223345/1", "11223345/1", 413, "https://github.com/acme/widgets/actions/runs/11223345"
	failed.FinishedAt, failed.Complete = at("2026-11-30T14:06:03Z"), true
	finished := func(b ci.Build, r ci.Result, state string) ci.Build {
		b.Result, b.StateText = r, state
		return b
	}
	success := started
	success.FinishedAt, success.Complete, success.Result, success.StateText = at("2026-11-30T14:07:42Z"), true, ci.ResultSuccess, "success"
	queued, running := started, started
	queued.StateText, running.StateText = "queued", "in_progress"
	rerun := failed
	rerun.ID, rerun.RequestID, rerun.Owner, rerun.Attempt = "11223345/2", "11223345/2", "hubot", 2
	rerun.StartedAt, rerun.FinishedAt = at("2026-11-30T14:25:40Z"), at("2026-11-30T14:31:09Z")
	rerun.Result, rerun.StateText = ci.ResultSuccess, "success"

	tests := []struct {
		name   string
		event  string
		body   []byte
		repos  []string
		header func(http.Header) // changes to the signed header
		kind   ci.Kind
		want   *ci.Build
		at     time.Time
		err    error  // sentinel, or nil for a plain error when wantErr
		reason string // ci.Reason of the error
	}{
		{name: "requested", event: "workflow_run", body: fixture(t, "workflow_run_requested.json"),
			kind: ci.KindStarted, want: &queued, at: queued.StartedAt},
		{name: "in progress", event: "workflow_run", body: fixture(t, "workflow_run_in_progress.json"),
			kind: ci.KindStarted, want: &running, at: running.StartedAt},
		{name: "completed success", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			kind: ci.KindFinished, want: &success, at: success.FinishedAt},
		{name: "completed failure", event: "workflow_run", body: fixture(t, "workflow_run_completed_failure.json"),
			kind: ci.KindFinished, want: ptr(finished(failed, ci.ResultFailure, "failure")), at: failed.FinishedAt},
		{name: "completed cancelled", event: "workflow_run", body: withConclusion(t, "cancelled"),
			kind: ci.KindFinished, want: ptr(finished(failed, ci.ResultCancelled, "cancelled")), at: failed.FinishedAt},
		{name: "completed timed out", event: "workflow_run", body: withConclusion(t, "timed_out"),
			kind: ci.KindFinished, want: ptr(finished(failed, ci.ResultFailure, "timed_out")), at: failed.FinishedAt},
		{name: "completed action required waits for approval", event: "workflow_run", body: withConclusion(t, "action_required"),
			err: ci.ErrIgnoreEvent, reason: "workflow_run waits for approval (action_required); it is reported once it runs"},
		{name: "requested action required waits for approval", event: "workflow_run", body: requestedAs(t, "completed", "action_required"),
			err: ci.ErrIgnoreEvent, reason: "workflow_run waits for approval (action_required); it is reported once it runs"},
		{name: "re-run attempt 2 is its own build", event: "workflow_run", body: fixture(t, "workflow_run_rerun_attempt2.json"),
			kind: ci.KindFinished, want: &rerun, at: rerun.FinishedAt},
		{name: "several repos prefix the builder", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			repos: []string{"acme/widgets", "other/gadgets"}, kind: ci.KindFinished,
			want: func() *ci.Build { b := success; b.Builder = "widgets/CI"; return &b }(), at: success.FinishedAt},
		{name: "repo matched case-insensitively", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			repos: []string{"Acme/Widgets"}, kind: ci.KindFinished, want: &success, at: success.FinishedAt},

		{name: "ping", event: "ping", body: fixture(t, "ping.json"), err: ci.ErrIgnoreEvent, reason: "ping"},
		{name: "unknown event", event: "push", body: fixture(t, "push.json"),
			err: ci.ErrIgnoreEvent, reason: "event push is not followed"},
		{name: "workflow job", event: "workflow_job", body: fixture(t, "workflow_job_in_progress.json"),
			err: ci.ErrIgnoreEvent, reason: "workflow_job: job and step progress is not reported yet; runs come from workflow_run"},
		{name: "other repo", event: "workflow_run", body: fixture(t, "workflow_run_other_repo.json"),
			err: ci.ErrIgnoreEvent, reason: "repository other/gadgets is not followed"},

		{name: "bad signature", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			header: func(h http.Header) { h.Set("X-Hub-Signature-256", sign([]byte("other body"), testSecret)) },
			err:    ci.ErrBadSignature, reason: "X-Hub-Signature-256 does not match the body"},
		{name: "signed with another secret", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			header: func(h http.Header) {
				h.Set("X-Hub-Signature-256", sign(fixture(t, "workflow_run_completed_success.json"), "guess"))
			},
			err: ci.ErrBadSignature, reason: "X-Hub-Signature-256 does not match the body"},
		{name: "missing signature", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			header: func(h http.Header) { h.Del("X-Hub-Signature-256") },
			err:    ci.ErrBadSignature, reason: "no X-Hub-Signature-256 header"},
		{name: "sha1 signature only", event: "workflow_run", body: fixture(t, "workflow_run_completed_success.json"),
			header: func(h http.Header) {
				h.Set("X-Hub-Signature-256", "sha1="+strings.TrimPrefix(h.Get("X-Hub-Signature-256"), "sha256=")[:40])
			},
			err: ci.ErrBadSignature, reason: "X-Hub-Signature-256 is not sha256=<hex>"},
		{name: "bad signature is checked before a malformed body", event: "workflow_run", body: []byte("{"),
			header: func(h http.Header) { h.Set("X-Hub-Signature-256", "sha256=00") },
			err:    ci.ErrBadSignature, reason: "X-Hub-Signature-256 does not match the body"},
		{name: "bad signature on a ping", event: "ping", body: fixture(t, "ping.json"),
			header: func(h http.Header) { h.Del("X-Hub-Signature-256") },
			err:    ci.ErrBadSignature, reason: "no X-Hub-Signature-256 header"},

		{name: "form-encoded delivery", event: "workflow_run", body: formBody(t, "workflow_run_completed_success.json"),
			header: func(h http.Header) { h.Set("Content-Type", "application/x-www-form-urlencoded") },
			reason: "github: the delivery is form-encoded: set the webhook's Content type to application/json"},
		{name: "form-encoded ping", event: "ping", body: formBody(t, "ping.json"),
			header: func(h http.Header) { h.Del("Content-Type") },
			reason: "github: the delivery is form-encoded: set the webhook's Content type to application/json"},
		{name: "malformed body", event: "workflow_run", body: []byte(`{"action": "completed", "workflow_run": `),
			reason: "github: workflow_run: unexpected end of JSON input"},
		{name: "no event header", event: "", body: fixture(t, "ping.json"), reason: "github: no X-Github-Event header"},
		{name: "no repository", event: "workflow_run", body: []byte(`{"action": "completed", "workflow_run": {"id": 1}}`),
			reason: "github: workflow_run: no repository.full_name"},
		{name: "no workflow_run object", event: "workflow_run",
			body:   []byte(`{"action": "completed", "repository": {"full_name": "acme/widgets"}}`),
			reason: "github: workflow_run: no workflow_run object"},
		{name: "missing run fields", event: "workflow_run",
			body:   []byte(`{"action": "completed", "repository": {"full_name": "acme/widgets"}, "workflow_run": {"status": "completed"}}`),
			reason: "github: workflow_run: missing workflow_run.id, workflow_run.run_number, workflow_run.name, workflow_run.conclusion"},
		{name: "no action", event: "workflow_run",
			body:   []byte(`{"repository": {"full_name": "acme/widgets"}, "workflow_run": {"id": 1}}`),
			reason: "github: workflow_run: no action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := signedHeader(tt.event, tt.body)
			if tt.event == "" {
				h.Del("X-GitHub-Event")
			}
			if tt.header != nil {
				tt.header(h)
			}
			d, err := newParser(tt.repos...).ParseWebhook(h, tt.body)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("no error; delivery %+v", d)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Errorf("error %v, want %v", err, tt.err)
				}
				if tt.err == nil && (errors.Is(err, ci.ErrIgnoreEvent) || errors.Is(err, ci.ErrBadSignature)) {
					t.Errorf("error %v, want a plain error (answered 400)", err)
				}
				if got := ci.Reason(err); got != tt.reason {
					t.Errorf("reason %q, want %q", got, tt.reason)
				}
				if strings.Contains(err.Error(), testSecret) {
					t.Errorf("error %q holds the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.ID != "72d3162e-cc78-11e3-81ab-4c9367dc0958" {
				t.Errorf("delivery id %q", d.ID)
			}
			if len(d.Events) != 1 {
				t.Fatalf("%d events, want 1", len(d.Events))
			}
			ev := d.Events[0]
			if ev.Conn != "gh" || ev.Kind != tt.kind || !ev.At.Equal(tt.at) {
				t.Errorf("event conn %q kind %q at %v, want gh %q %v", ev.Conn, ev.Kind, ev.At, tt.kind, tt.at)
			}
			if !reflect.DeepEqual(*ev.Build, *tt.want) {
				t.Errorf("build\n got %+v\nwant %+v", *ev.Build, *tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// formBody is a fixture as a webhook whose content type is application/x-www-form-urlencoded
// posts it.
func formBody(t testing.TB, name string) []byte {
	return []byte("payload=" + url.QueryEscape(string(fixture(t, name))))
}

// requestedAs is the requested fixture with another status and conclusion ("" for null).
func requestedAs(t testing.TB, status, conclusion string) []byte {
	t.Helper()
	b := string(fixture(t, "workflow_run_requested.json"))
	c := "null"
	if conclusion != "" {
		c = `"` + conclusion + `"`
	}
	out := strings.Replace(b, `"status": "queued"`, `"status": "`+status+`"`, 1)
	out = strings.Replace(out, `"conclusion": null`, `"conclusion": `+c, 1)
	if out == b {
		t.Fatal("the requested fixture has no queued status")
	}
	return []byte(out)
}

// A run of a pull request from a fork names its branch after the fork's owner, so that a
// contributor's main is not the repository's main; a run without a name is its workflow's.
func TestForkBranchAndEmptyName(t *testing.T) {
	body := string(fixture(t, "workflow_run_completed_failure.json"))
	fork := `"head_repository": {"id": 800200, "name": "widgets", "full_name": "mona/widgets", "private": false, "owner": {"login": "mona", "id": 583231, "type": "User"}}`
	out := strings.Replace(body, `"head_repository": {"id": 700100, "name": "widgets", "full_name": "acme/widgets", "private": false, "owner": {"login": "acme", "id": 9919, "type": "Organization"}}`, fork, 1)
	out = strings.Replace(out, `"name": "CI",`, `"name": "",`, 1)
	if out == body || strings.Count(out, `"name": "CI"`) != 1 {
		t.Fatal("the failure fixture changed")
	}
	d, err := newParser().ParseWebhook(signedHeader("workflow_run", []byte(out)), []byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := d.Events[0].Build; b.Branch != "mona:main" || b.Builder != "CI" {
		t.Errorf("fork run: branch %q builder %q, want mona:main and CI", b.Branch, b.Builder)
	}
	// The same repository spelt otherwise is no fork.
	same := strings.Replace(body, `"full_name": "acme/widgets", "private": false, "owner": {"login": "acme", "id": 9919, "type": "Organization"}}
  },`, `"full_name": "Acme/Widgets", "private": false, "owner": {"login": "Acme", "id": 9919, "type": "Organization"}}
  },`, 1)
	d, err = newParser().ParseWebhook(signedHeader("workflow_run", []byte(same)), []byte(same))
	if err != nil || d.Events[0].Build.Branch != "main" {
		t.Errorf("the repository's own branch: %+v, %v", d, err)
	}
}

// A requested (or in_progress) delivery of a run that is over already, as one that fails at
// startup sends it, is the run's start and its end: the completed that may follow adds
// nothing (its key is the same), and the run is not left running.
func TestRequestedButCompleted(t *testing.T) {
	for _, action := range []string{"requested", "in_progress"} {
		t.Run(action, func(t *testing.T) {
			body := requestedAs(t, "completed", "startup_failure")
			body = []byte(strings.Replace(string(body), `"action": "requested"`, `"action": "`+action+`"`, 1))
			d, err := newParser().ParseWebhook(signedHeader("workflow_run", body), body)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Events) != 2 || d.Events[0].Kind != ci.KindStarted || d.Events[1].Kind != ci.KindFinished {
				t.Fatalf("events %+v, want started and finished", d.Events)
			}
			s, f := d.Events[0].Build, d.Events[1].Build
			if s.Complete || s.Result != ci.ResultNone || !f.Complete || f.Result != ci.ResultFailure || f.StateText != "startup_failure" {
				t.Errorf("started %+v\nfinished %+v", *s, *f)
			}
			// The completed delivery that may follow has this key: a duplicate.
			if k := d.Events[1].Key(); k != "gh/build/11223344/1/finished" {
				t.Errorf("finished key %q", k)
			}
		})
	}
}

// TestRerunKeys is why the attempt is in the build id: a re-run's completed must not be
// dropped as a duplicate of the first attempt's.
func TestRerunKeys(t *testing.T) {
	p := newParser()
	key := func(name string) string {
		body := fixture(t, name)
		d, err := p.ParseWebhook(signedHeader("workflow_run", body), body)
		if err != nil {
			t.Fatal(err)
		}
		return d.Events[0].Key()
	}
	first, second := key("workflow_run_completed_failure.json"), key("workflow_run_rerun_attempt2.json")
	if first == second {
		t.Errorf("attempts 1 and 2 share the key %q", first)
	}
	if want := "gh/build/11223345/2/finished"; second != want {
		t.Errorf("attempt 2 key %q, want %q", second, want)
	}
}

func TestResult(t *testing.T) {
	for conclusion, want := range map[string]ci.Result{
		"success": ci.ResultSuccess, "failure": ci.ResultFailure, "timed_out": ci.ResultFailure,
		"startup_failure": ci.ResultFailure, "cancelled": ci.ResultCancelled, "skipped": ci.ResultSkipped,
		"stale": ci.ResultSkipped, "neutral": ci.ResultSuccess, "action_required": ci.ResultWarnings,
		"something_new": ci.ResultException,
	} {
		if got := github.Result(conclusion); got != want {
			t.Errorf("Result(%q) = %q, want %q", conclusion, got, want)
		}
	}
}

func TestNoSecretRefusesEverything(t *testing.T) {
	p := github.NewParser(github.ParserConfig{Conn: "gh", Repos: []string{"acme/widgets"}})
	body := fixture(t, "ping.json")
	h := http.Header{}
	h.Set("X-GitHub-Event", "ping")
	h.Set("X-Hub-Signature-256", sign(body, ""))
	_, err := p.ParseWebhook(h, body)
	if !errors.Is(err, ci.ErrBadSignature) {
		t.Errorf("error %v, want a bad signature", err)
	}
}

func TestBuildIDAndCleaning(t *testing.T) {
	if got := github.BuildID(7, 0); got != "7/1" {
		t.Errorf("BuildID(7, 0) = %q, want 7/1", got)
	}
	body := []byte(`{"action": "completed", "repository": {"name": "widgets", "full_name": "acme/widgets"},
		"workflow_run": {"id": 9, "run_number": 3, "name": "C\u0000I\u001b", "conclusion": "failure",
		"head_branch": "ma\u0007in", "run_started_at": "2099-01-01T00:00:00Z", "updated_at": "1970-01-02T00:00:00Z"}}`)
	d, err := newParser().ParseWebhook(signedHeader("workflow_run", body), body)
	if err != nil {
		t.Fatal(err)
	}
	b := d.Events[0].Build
	if b.Builder != "CI" || b.Branch != "main" {
		t.Errorf("builder %q branch %q, want cleaned CI main", b.Builder, b.Branch)
	}
	if !b.StartedAt.Equal(testNow) || !b.FinishedAt.IsZero() {
		t.Errorf("started %v finished %v, want clamped to now and unknown", b.StartedAt, b.FinishedAt)
	}
	if !d.Events[0].At.Equal(testNow) {
		t.Errorf("event at %v, want now when the run's time is unknown", d.Events[0].At)
	}
}
