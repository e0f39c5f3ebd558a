package buildbot

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	builds, err := parseBuilds(fixture(t, "builds.json"))
	if err != nil || len(builds) != 1 {
		t.Fatalf("builds: %v (%d)", err, len(builds))
	}
	b := toBuild("main", "http://ci/", "toggle", builds[0], time.Now())
	want := ci.Build{
		Conn: "main", ID: "1", Number: 1, Builder: "toggle", BuilderID: "5", RequestID: "1",
		Branch: "feature", Owner: "", Reason: "force build", Complete: true, Result: ci.ResultFailure,
		StateText: "failed compile (failure)", URL: "http://ci/#/builders/5/builds/1",
	}
	if b.StartedAt.IsZero() || b.FinishedAt.Before(b.StartedAt) {
		t.Errorf("times: started %v finished %v", b.StartedAt, b.FinishedAt)
	}
	b.StartedAt, b.FinishedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("toBuild =\n%+v\nwant\n%+v", b, want)
	}
	if builds[0].property("clean") != "true" || builds[0].property("nope") != "" {
		t.Errorf("properties: clean %q", builds[0].property("clean"))
	}

	steps, err := parseSteps(fixture(t, "steps.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cur, failed := stepSummary(steps); cur != "" || failed != "compile" {
		t.Errorf("stepSummary = %q, %q", cur, failed)
	}

	builders, err := parseBuilders(fixture(t, "builders.json"))
	if err != nil || len(builders) != 5 {
		t.Errorf("builders: %v (%d)", err, len(builders))
	}
	workers, err := parseWorkers(fixture(t, "workers.json"))
	if err != nil || len(workers) != 2 || len(workers[0].ConnectedTo) == 0 {
		t.Errorf("workers: %v %+v", err, workers)
	}
	fs, err := parseForceSchedulers(fixture(t, "forceschedulers.json"))
	if err != nil || len(fs) != 1 {
		t.Fatalf("forceschedulers: %v", err)
	}
	fields, needEmail := forceFields(fs[0].AllFields)
	if !needEmail || len(fields) != 5 {
		t.Errorf("fields %+v need email %v", fields, needEmail)
	}
}

func TestParseWSFrames(t *testing.T) {
	for _, tc := range []struct {
		file string
		key  string
	}{
		{"ws_builds_new.json", "builds/1/new"},
		{"ws_builds_finished.json", "builds/1/finished"},
		{"ws_workers_missing.json", "workers/2/missing"},
		{"ws_workers_connected.json", "workers/2/connected"},
		{"ws_ack.json", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := parseWSFrame(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if f.Key != tc.key {
				t.Errorf("key = %q, want %q", f.Key, tc.key)
			}
			if tc.key == "" && f.ID == nil {
				t.Errorf("ack without id")
			}
		})
	}
	w, err := parseWorkerMessage(mustFrame(t, "ws_workers_missing.json").Message)
	if err != nil || w.Name != "w2" || w.ID != 2 {
		t.Errorf("worker message = %+v, %v", w, err)
	}
}

func mustFrame(t *testing.T, name string) wsFrame {
	f, err := parseWSFrame(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestResultOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		code *int
		want ci.Result
	}{
		{"running", nil, ci.ResultNone},
		{"success", ptr(0), ci.ResultSuccess},
		{"warnings", ptr(1), ci.ResultWarnings},
		{"failure", ptr(2), ci.ResultFailure},
		{"skipped", ptr(3), ci.ResultSkipped},
		{"exception", ptr(4), ci.ResultException},
		{"retry", ptr(5), ci.ResultRetry},
		{"cancelled", ptr(6), ci.ResultCancelled},
		{"unknown", ptr(42), ci.ResultException},
		{"negative", ptr(-1), ci.ResultException},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultOf(tc.code); got != tc.want {
				t.Errorf("resultOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseForceResult(t *testing.T) {
	r, err := parseForceResult([]byte(`[7,{"3":12}]`))
	if err != nil || r.Ref != "buildset 7" || len(r.RequestIDs) != 1 || r.RequestIDs[0] != "12" {
		t.Errorf("parseForceResult = %+v, %v", r, err)
	}
	if _, err := parseForceResult([]byte(`{"x":1}`)); err == nil {
		t.Errorf("want an error for a malformed result")
	}
}

func ptr(i int) *int { return &i }

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(fixture(f, n))
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"builds":[{"started_at":1e300,"complete_at":-5,"results":99}]}`))
}

func FuzzParseBuilds(f *testing.F) {
	seed(f, "builds.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := parseBuilds(data)
		if err != nil {
			return
		}
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		for _, b := range bs {
			cb := toBuild("main", "http://ci/", "x", b, now)
			// Whatever the master sent, what herald stores is clean and in herald's time.
			for _, s := range []string{cb.Branch, cb.Revision, cb.Owner, cb.Reason, cb.StateText, cb.RequestID} {
				if ci.CleanText(s) != s {
					t.Fatalf("toBuild kept %q", s)
				}
			}
			if cb.StartedAt.After(now.Add(ci.MaxClockSkew)) || cb.FinishedAt.After(now.Add(ci.MaxClockSkew)) {
				t.Fatalf("toBuild kept a time in the future: %v, %v", cb.StartedAt, cb.FinishedAt)
			}
		}
	})
}

func FuzzParseSteps(f *testing.F) {
	seed(f, "steps.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := parseSteps(data); err == nil {
			stepSummary(s)
		}
	})
}

func FuzzParseBuilders(f *testing.F) {
	seed(f, "builders.json")
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = parseBuilders(data) })
}

func FuzzParseWorkers(f *testing.F) {
	seed(f, "workers.json")
	f.Fuzz(func(t *testing.T, data []byte) { _, _ = parseWorkers(data) })
}

func FuzzParseForceSchedulers(f *testing.F) {
	seed(f, "forceschedulers.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if fs, err := parseForceSchedulers(data); err == nil {
			for _, s := range fs {
				forceFields(s.AllFields)
			}
		}
	})
}

func FuzzParseWSFrame(f *testing.F) {
	seed(f, "ws_builds_new.json", "ws_builds_finished.json", "ws_workers_missing.json", "ws_ack.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := parseWSFrame(data)
		if err != nil {
			return
		}
		if fr.Key == "" && fr.ID == nil && fr.Error == "" {
			t.Errorf("accepted an empty frame")
		}
		_, _ = parseWorkerMessage(fr.Message)
	})
}

func FuzzParseRPCReply(f *testing.F) {
	f.Add([]byte(`{"id":1,"jsonrpc":"2.0","result":[1,{"3":1}]}`))
	f.Add([]byte(`{"error":{"code":-32602,"message":"branch: is required"},"id":1,"jsonrpc":"2.0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := parseRPCReply(data); err == nil && r.Result != nil {
			_, _ = parseForceResult(r.Result)
		}
	})
}

// Buildbot's own labels end with a colon ("Branch:", "Your name:" — the defaults of
// CodebaseParameter and UserNameParameter); herald adds its own after a label, so it strips it.
func TestForceFieldLabelsLoseTheirColon(t *testing.T) {
	data := fixture(t, "forceschedulers.json")
	// The test master names its fields without colons; give them Buildbot's default labels.
	for _, l := range []string{"Branch", "Reason", "Greeting"} {
		data = bytes.ReplaceAll(data, []byte(`"label": "`+l+`"`), []byte(`"label": "`+l+`:"`))
	}
	fs, err := parseForceSchedulers(data)
	if err != nil || len(fs) != 1 {
		t.Fatalf("forceschedulers: %v", err)
	}
	fields, _ := forceFields(fs[0].AllFields)
	got := map[string]string{}
	for _, f := range fields {
		got[f.Name] = f.Label
	}
	want := map[string]string{"reason": "Reason", "branch": "Branch", "greeting": "Greeting", "target": "Target", "clean": "Clean"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	for in, want := range map[string]string{"Branch:": "Branch", " Your name: ": "Your name", "a:b": "a:b", ":": "", "Time (s)": "Time (s)"} {
		if got := fieldLabel(in); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

// A NUL or a control character typed into a forced build's reason, or sent in any other
// string, never reaches the store; a time from a master whose clock is years ahead is
// herald's now, so the catch-up cursor cannot move into the future.
func TestToBuildCleansWhatTheMasterSent(t *testing.T) {
	raw := []byte(`{"builds":[{"buildid":7,"number":3,"builderid":2,"buildrequestid":9,"complete":true,
		"started_at":1900000000,"complete_at":1900000100,"results":2,
		"state_string":"failed\u0000 compile\u001b[31m",
		"properties":{"reason":["evil\u0000reason\r\n",""],"owner":["bob\u0007",""],"branch":["main\u0000",""],
		"got_revision":["abc\ufffd",""]}}]}`)
	bs, err := parseBuilds(raw)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	b := toBuild("main", "http://ci/", "app\x00", bs[0], now)
	if b.Reason != "evilreason\n" || b.Owner != "bob" || b.Branch != "main" || b.StateText != "failed compile[31m" || b.Builder != "app" {
		t.Errorf("cleaned build: reason %q owner %q branch %q state %q builder %q", b.Reason, b.Owner, b.Branch, b.StateText, b.Builder)
	}
	if b.Revision != "abc\ufffd" {
		t.Errorf("revision %q: a valid character was changed", b.Revision)
	}
	// 1900000000 is in 2030.
	if !b.StartedAt.Equal(now) || !b.FinishedAt.Equal(now) {
		t.Errorf("times from the future: started %v finished %v, want %v", b.StartedAt, b.FinishedAt, now)
	}
}
