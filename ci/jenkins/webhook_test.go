package jenkins_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/jenkins"
)

const testSecret = "SECREThook42"

var testNow = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

func newParser(jobs ...string) *jenkins.Parser {
	return jenkins.NewParser(jenkins.ParserConfig{
		Conn: "jk", Jobs: jobs, Secret: testSecret, Root: "https://jenkins.example.com/",
		Clock: func() time.Time { return testNow },
		BranchOf: func(full string) string {
			if full == "app/web/feature%2Fx" {
				return "feature/x"
			}
			return ""
		},
	})
}

func basic(user, pass string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseNotifications(t *testing.T) {
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	tests := []struct {
		file string
		kind ci.Kind
		at   time.Time
		want ci.Build
	}{
		{"notification_started.json", ci.KindStarted, ms(1796119200000), ci.Build{
			Conn: "jk", ID: "app/deploy#42@q1307", Number: 42, Builder: "app/deploy", BuilderID: "app/deploy", RequestID: "queue/1307",
			Branch: "release-1.2", Revision: "9f2c1e7d4b5a6c8e0f1a2b3c4d5e6f7a8b9c0d1e", StartedAt: ms(1796119200000),
			StateText: "building", URL: "https://jenkins.example.com/job/app/job/deploy/42/"}},
		{"notification_completed_failure.json", ci.KindFinished, ms(1796119500000), ci.Build{
			Conn: "jk", ID: "app/deploy#42@q1307", Number: 42, Builder: "app/deploy", BuilderID: "app/deploy", RequestID: "queue/1307",
			Branch: "release-1.2", Revision: "9f2c1e7d4b5a6c8e0f1a2b3c4d5e6f7a8b9c0d1e", StartedAt: ms(1796119200000), FinishedAt: ms(1796119500000),
			Complete: true, Result: ci.ResultFailure, StateText: "failure", URL: "https://jenkins.example.com/job/app/job/deploy/42/"}},
		{"notification_finalized_success.json", ci.KindFinished, ms(1796119260000), ci.Build{
			Conn: "jk", ID: "app/web/feature%2Fx#7@q1311", Number: 7, Builder: "app/web/feature%2Fx", BuilderID: "app/web/feature%2Fx", RequestID: "queue/1311",
			// FINALIZED is posted after the build ended: its duration says nothing of the start.
			Branch: "feature/x", Revision: "0123456789abcdef0123456789abcdef01234567", FinishedAt: ms(1796119260000),
			Complete: true, Result: ci.ResultSuccess, StateText: "success", URL: "https://jenkins.example.com/job/app/job/web/job/feature%252Fx/7/"}},
		{"notification_old_timestamp.json", ci.KindFinished, time.Date(2026, 12, 1, 10, 5, 0, 500e6, time.UTC), ci.Build{
			Conn: "jk", ID: "release#3", Number: 3, Builder: "release", BuilderID: "release", Branch: "hotfix",
			StartedAt: time.Date(2026, 12, 1, 10, 4, 59, 0, time.UTC), FinishedAt: time.Date(2026, 12, 1, 10, 5, 0, 500e6, time.UTC),
			Complete: true, Result: ci.ResultCancelled, StateText: "aborted", URL: "https://jenkins.example.com/job/release/3/"}},
	}
	p := newParser()
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d, err := p.ParseWebhook(basic("herald", testSecret), fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Events) != 1 || d.ID != "" {
				t.Fatalf("delivery %+v", d)
			}
			ev := d.Events[0]
			if ev.Kind != tt.kind || ev.Conn != "jk" || !ev.At.Equal(tt.at) {
				t.Errorf("event %s at %v, want %s at %v", ev.Kind, ev.At, tt.kind, tt.at)
			}
			if !reflect.DeepEqual(*ev.Build, tt.want) {
				t.Errorf("build\n got %+v\nwant %+v", *ev.Build, tt.want)
			}
		})
	}
}

func TestCompletedAndFinalizedAreOneEvent(t *testing.T) {
	p := newParser()
	body := fixture(t, "notification_completed_failure.json")
	d1, err := p.ParseWebhook(basic("herald", testSecret), body)
	if err != nil {
		t.Fatal(err)
	}
	fin := bytes.Replace(body, []byte(`"COMPLETED"`), []byte(`"FINALIZED"`), 1)
	d2, err := p.ParseWebhook(basic("herald", testSecret), fin)
	if err != nil {
		t.Fatal(err)
	}
	if k1, k2 := d1.Events[0].Key(), d2.Events[0].Key(); k1 != k2 {
		t.Errorf("keys %q and %q differ", k1, k2)
	}
}

func TestWebhookRefusalsAndIgnores(t *testing.T) {
	started := fixture(t, "notification_started.json")
	tests := []struct {
		name   string
		parser *jenkins.Parser
		header http.Header
		body   []byte
		is     error  // nil: a malformed body
		reason string // ci.Reason of the error
	}{
		{"no secret configured", jenkins.NewParser(jenkins.ParserConfig{Conn: "jk"}), basic("herald", testSecret), started,
			ci.ErrBadSignature, "no webhook secret is configured for this connection"},
		{"no authorization", newParser(), http.Header{}, started,
			ci.ErrBadSignature, "no Authorization header: the endpoint URL must carry the secret, as https://herald:<secret>@HOST/ci/NAME/webhook"},
		{"bearer", newParser(), http.Header{"Authorization": {"Bearer " + testSecret}}, started,
			ci.ErrBadSignature, "the Authorization header is not Basic user:secret"},
		{"wrong secret", newParser(), basic("herald", "SECRETwrong"), started,
			ci.ErrBadSignature, "the password in the Authorization header is not the webhook secret"},
		{"queued", newParser(), basic("herald", testSecret), fixture(t, "notification_queued.json"),
			ci.ErrIgnoreEvent, "phase QUEUED: herald reports builds when they start"},
		{"unknown phase", newParser(), basic("herald", testSecret), []byte(`{"name":"a","url":"job/a/","build":{"number":1,"phase":"NONE"}}`),
			ci.ErrIgnoreEvent, "phase NONE is not followed"},
		{"job not followed", newParser("app/*"), basic("herald", testSecret), fixture(t, "notification_other_job.json"),
			ci.ErrIgnoreEvent, "job ops/nightly is not followed"},
		{"not JSON", newParser(), basic("herald", testSecret), []byte("phase=STARTED"),
			nil, "jenkins: notification: invalid character 'p' looking for beginning of value"},
		{"no build", newParser(), basic("herald", testSecret), []byte(`{"name":"a"}`), nil, "jenkins: notification: no build object"},
		{"no phase", newParser(), basic("herald", testSecret), []byte(`{"name":"a","build":{"number":1}}`), nil, "jenkins: notification: no build.phase"},
		{"no status", newParser(), basic("herald", testSecret), fixture(t, "notification_no_status.json"),
			nil, "jenkins: notification: phase COMPLETED without build.status"},
		{"bad url", newParser(), basic("herald", testSecret), []byte(`{"name":"a","url":"view/x/","build":{"number":1,"phase":"STARTED"}}`),
			nil, `jenkins: notification: url "view/x/" is not job/NAME/…`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.parser.ParseWebhook(tt.header, tt.body)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v, want %v", err, tt.is)
			}
			if tt.is == nil && (errors.Is(err, ci.ErrBadSignature) || errors.Is(err, ci.ErrIgnoreEvent)) {
				t.Errorf("error %v, want a malformed body", err)
			}
			if got := ci.Reason(err); got != tt.reason {
				t.Errorf("reason %q, want %q", got, tt.reason)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestWebhookSecretPercentEncoded(t *testing.T) {
	p := jenkins.NewParser(jenkins.ParserConfig{Conn: "jk", Secret: "a/b c", Clock: func() time.Time { return testNow }})
	for _, sent := range []string{"a/b c", "a%2Fb%20c"} {
		if _, err := p.ParseWebhook(basic("herald", sent), fixture(t, "notification_started.json")); err != nil {
			t.Errorf("secret sent as %q: %v", sent, err)
		}
	}
}

// A job deleted and made again (a multibranch branch that went away and came back) numbers
// its builds from 1 again: the queue item each build came from keeps their ids apart.
func TestBuildIDsDifferAcrossAJobsLives(t *testing.T) {
	p := newParser()
	body := fixture(t, "notification_started.json")
	later := bytes.Replace(body, []byte(`"queue_id": 1307`), []byte(`"queue_id": 2001`), 1)
	var ids []string
	for _, b := range [][]byte{body, later} {
		d, err := p.ParseWebhook(basic("herald", testSecret), b)
		if err != nil || len(d.Events) != 1 {
			t.Fatalf("parse: %v, %+v", err, d)
		}
		ids = append(ids, d.Events[0].Build.ID)
	}
	if ids[0] == ids[1] || !strings.HasPrefix(ids[0], jenkins.BuildID("app/deploy", 42)) || !strings.HasPrefix(ids[1], jenkins.BuildID("app/deploy", 42)) {
		t.Errorf("ids %q: want two ids of app/deploy#42", ids)
	}
}
