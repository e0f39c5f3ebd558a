package main

// Helpers for the end-to-end tests of GitHub Actions: the real herald binary connected, as
// connection "gh", to a fake GitHub (ci/github/githubtest) that posts its signed webhooks
// to herald's /ci/gh/webhook.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/github/githubtest"
)

// The fake GitHub's credentials, passed to herald through the environment as a user would.
// Neither may ever appear in herald's logs.
const (
	ghToken  = "ghp_e2eGitHubTokenDoNotLog0123456789"
	ghSecret = "e2e-github-webhook-secret-do-not-log"
	ghRepo   = "acme/widgets"
)

// ciWorkflow is the repository's main workflow: pushes, and by hand with two inputs.
const ciWorkflow = `name: CI
on:
  push:
    branches: [main, develop]
  workflow_dispatch:
    inputs:
      environment:
        description: Where the run deploys
        type: choice
        options: [staging, production]
        default: staging
      note:
        type: string
        required: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Run tests
        run: make test
`

// lintWorkflow runs on pushes only: it has no workflow_dispatch, so /force never offers it.
const lintWorkflow = `name: Lint
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: make lint
`

// ghOptions shape one herald + fake GitHub installation.
type ghOptions struct {
	prefix string // the fake's API prefix: "" (github.com) or "/api/v3" (Enterprise Server)
	poll   string // poll_interval; default 1h, so that what a test sees comes from webhooks
	chats  string // YAML appended after the ci: section (chats:, authz: …)
	// webhookFirst puts a proxy between herald and the fake that holds the answer to a
	// dispatch or a re-run until herald has answered the run's workflow_run "requested"
	// delivery: GitHub's webhook may well arrive before its API answer is read.
	webhookFirst bool
}

// ghEnv is one test's installation.
type ghEnv struct {
	t     *testing.T
	tg    *telegramtest.Server
	gh    *githubtest.Server
	h     *heraldProc
	ghLog *syncBuffer
	clock atomic.Pointer[time.Time] // the fake's frozen time; nil: the real clock
	ci    int64                     // the CI workflow's id
	lint  int64                     // the Lint workflow's id
}

// newGitHubEnv prepares herald and a fake GitHub with acme/widgets (main, develop), the CI
// and Lint workflows and a runner; it does not start herald. The fake needs herald's
// address for its webhooks, and herald's config the fake's URL, so the ci: section is
// appended to the config newHerald wrote.
func newGitHubEnv(t *testing.T, o ghOptions) *ghEnv {
	t.Helper()
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	e := &ghEnv{t: t, tg: tg, h: h, ghLog: &syncBuffer{}}
	gh, err := githubtest.New(githubtest.Options{
		Prefix:        o.prefix,
		Token:         ghToken,
		WebhookURL:    "http://" + h.addr + "/ci/gh/webhook",
		WebhookSecret: ghSecret,
		Log:           e.ghLog,
		Now: func() time.Time {
			if t := e.clock.Load(); t != nil {
				return *t
			}
			return time.Now()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.gh = gh
	gh.AddRepo(ghRepo, "main", "develop")
	e.ci = gh.AddWorkflow(ghRepo, ".github/workflows/ci.yml", "CI", ciWorkflow)
	e.lint = gh.AddWorkflow(ghRepo, ".github/workflows/lint.yml", "Lint", lintWorkflow)
	gh.AddRunner(ghRepo, "runner-1", true, false)

	apiURL := gh.URL()
	if o.webhookFirst {
		apiURL = e.webhookFirstProxy(o.prefix)
	}
	poll := o.poll
	if poll == "" {
		poll = "1h"
	}
	cfg := fmt.Sprintf(`ci:
  - name: gh
    type: github
    url: %s
    repos: [%s]
    auth: {type: bearer, token: "${HERALD_E2E_GH_TOKEN}"}
    webhook_secret: "${HERALD_E2E_GH_SECRET}"
    poll_interval: %s
`, apiURL, ghRepo, poll) + o.chats
	f, err := os.OpenFile(h.configPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	h.env = append(h.env, "HERALD_E2E_GH_TOKEN="+ghToken, "HERALD_E2E_GH_SECRET="+ghSecret)

	// Registered after newHerald's cleanup, so it runs first: herald stops before the
	// fake it talks to, and its whole log is checked.
	t.Cleanup(func() {
		h.stop(syscall.SIGTERM)
		logs := h.logs.String()
		for name, secret := range map[string]string{"GitHub token": ghToken, "webhook secret": ghSecret} {
			if strings.Contains(logs, secret) {
				t.Errorf("herald's logs contain the %s", name)
			}
		}
		gh.Close()
		if t.Failed() {
			t.Logf("fake GitHub's log:\n%s", e.ghLog.String())
			for _, d := range gh.Deliveries() {
				t.Logf("delivery %s %s/%s dropped=%v status=%d answer=%q", d.ID, d.Event, d.Action, d.Dropped, d.Status, d.Answer)
			}
		}
	})
	return e
}

// webhookFirstProxy serves the fake's API through a proxy (see ghOptions.webhookFirst) and
// returns the API root on it.
func (e *ghEnv) webhookFirstProxy(prefix string) string {
	t := e.t
	target, err := url.Parse(strings.TrimSuffix(e.gh.URL(), prefix))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = holdTransport{e: e}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL + prefix
}

// holdTransport forwards requests to the fake and holds a successful dispatch's or re-run's
// answer until every workflow_run "requested" delivery is answered by herald.
type holdTransport struct{ e *ghEnv }

func (h holdTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	held := r.Method == http.MethodPost &&
		(strings.HasSuffix(r.URL.Path, "/dispatches") || strings.HasSuffix(r.URL.Path, "/rerun-failed-jobs"))
	requested := func() (n, answered int) {
		for _, d := range h.e.gh.Deliveries() {
			if d.Event == "workflow_run" && d.Action == "requested" && !d.Redelive {
				n++
				if d.Done && d.Status != 0 {
					answered++
				}
			}
		}
		return n, answered
	}
	before, _ := requested()
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !held || resp.StatusCode >= 300 {
		return resp, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	if werr := h.e.gh.WaitFor(ctx, func() bool { n, answered := requested(); return n > before && answered == n }); werr != nil {
		h.e.t.Errorf("proxy: the run's requested delivery was not answered: %v", werr)
	}
	return resp, nil
}

// startGitHub is newGitHubEnv, then herald started and its first catch-up answered by the
// fake, so that the runs a test plays next reach herald by its webhooks (and later polls)
// only.
func startGitHub(t *testing.T, o ghOptions) *ghEnv {
	t.Helper()
	e := newGitHubEnv(t, o)
	e.h.start()
	e.waitGH("herald's first poll", func() bool { return e.gh.Stats().ByRoute[runsRoute] >= 1 })
	return e
}

// runsRoute is the route herald polls.
const runsRoute = "GET /repos/{owner}/{repo}/actions/runs"

// freeze stops the fake's clock at the current second, as when runs finish within the
// second GitHub's timestamps show; thaw starts it again.
func (e *ghEnv) freeze() {
	now := time.Now().Truncate(time.Second)
	e.clock.Store(&now)
}

func (e *ghEnv) thaw() { e.clock.Store(nil) }

// waitGH waits until cond holds of the fake GitHub's state.
func (e *ghEnv) waitGH(what string, cond func() bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := e.gh.WaitFor(ctx, cond); err != nil {
		e.t.Fatalf("waiting for %s at the fake GitHub: %v", what, err)
	}
}

// settled waits until every delivery so far is done (answered by herald, failed or
// dropped) and returns them all. A delivery answered 200 is stored with what it causes
// queued, so with waitOutboxEmpty after it the chats' messages are all sent.
func (e *ghEnv) settled() []githubtest.Delivery {
	e.t.Helper()
	var ds []githubtest.Delivery
	e.waitGH("every delivery answered", func() bool {
		ds = e.gh.Deliveries()
		for _, d := range ds {
			if !d.Done {
				return false
			}
		}
		return true
	})
	return ds
}

// checkAnswers fails the test for a sent delivery herald did not answer as GitHub's
// workflow events should be: workflow_run stored, workflow_job ignored, both with 200.
func (e *ghEnv) checkAnswers(ds []githubtest.Delivery) {
	e.t.Helper()
	for _, d := range ds {
		if d.Dropped || d.Redelive {
			continue
		}
		ok := d.Status == 200
		switch d.Event {
		case "workflow_run":
			ok = ok && (strings.HasPrefix(d.Answer, "ok: 1 events stored") || d.Answer == "duplicate delivery\n")
		case "workflow_job":
			ok = ok && strings.HasPrefix(d.Answer, "ignored: ")
		}
		if !ok {
			e.t.Errorf("delivery %s %s/%s answered %d %q", d.ID, d.Event, d.Action, d.Status, d.Answer)
		}
	}
}

// play queues a run of the CI workflow on branch, starts it and completes it with
// conclusion (a failure fails "build / Run tests"), and returns its id and number.
func (e *ghEnv) play(branch, conclusion string) (int64, int) {
	e.t.Helper()
	id := e.gh.QueueRun(ghRepo, e.ci, githubtest.RunOptions{Branch: branch, Message: "Change on " + branch})
	e.gh.StartRun(id, "build", "Run tests")
	step := ""
	if conclusion == "failure" {
		step = "Run tests"
	}
	e.gh.CompleteRun(id, conclusion, "build", step)
	return id, e.runNumber(id)
}

// runNumber is the run's run_number as the API shows it.
func (e *ghEnv) runNumber(id int64) int {
	e.t.Helper()
	var r struct {
		RunNumber int `json:"run_number"`
	}
	if err := json.Unmarshal(e.gh.RunJSON(id), &r); err != nil || r.RunNumber == 0 {
		e.t.Fatalf("run %d: run_number unreadable (%v): %s", id, err, e.gh.RunJSON(id))
	}
	return r.RunNumber
}

// runState is a run's latest attempt as the API shows it.
type runState struct {
	Status     string  `json:"status"`
	Conclusion *string `json:"conclusion"`
	RunAttempt int     `json:"run_attempt"`
	HeadBranch string  `json:"head_branch"`
}

func (e *ghEnv) run(id int64) runState {
	e.t.Helper()
	var r runState
	if err := json.Unmarshal(e.gh.RunJSON(id), &r); err != nil {
		e.t.Fatalf("run %d: %v", id, err)
	}
	return r
}

// ciNum is how a notification names the first attempt of CI's run number n:
// "<b>CI</b> <a href=…>#n</a>".
func ciNum(n int) []string {
	return []string{"<b>CI</b>", fmt.Sprintf(">#%d</a>", n)}
}

// ciAttempt is how a notification names a later attempt: "<b>CI</b> <a href=…>#n (attempt a)</a>".
func ciAttempt(n, a int) []string {
	return []string{"<b>CI</b>", fmt.Sprintf(">#%d (attempt %d)</a>", n, a)}
}

// barrier makes sure a chat has been sent everything herald will send it for what happened
// so far: every delivery answered, then the outbox drained.
func (e *ghEnv) barrier() []githubtest.Delivery {
	e.t.Helper()
	ds := e.settled()
	waitOutboxEmpty(e.t, e.h)
	return ds
}

// told reports whether chat was sent a message that contains every one of parts, as it was
// sent or as it stands now (an edit may tell it: the /force form becomes "Forced … has
// started", a live card becomes the result).
func told(tg *telegramtest.Server, chatID int64, parts ...string) bool {
	if countText(tg, chatID, parts...) > 0 {
		return true
	}
	for _, m := range tg.AllSent() {
		if m.ChatID == chatID && containsAll(m.Text, parts...) {
			return true
		}
	}
	return false
}
