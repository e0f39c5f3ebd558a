// Command fake-github serves a fake GitHub (REST API and signed webhooks, package
// ci/github/githubtest) on a fixed address so herald's GitHub Actions support can be
// tried without GitHub: one repository, demo/widgets (branches main and develop), with
// a workflow "CI" that has push and workflow_dispatch triggers and one online runner.
//
// Every -interval it plays a push run through queued, in progress and completed, in
// the cycle pass, pass, fail, pass (so herald reports a problem, then a recovery).
// Runs that herald dispatches (/force) or re-runs (the "Re-run failed jobs" button)
// play themselves; a dispatch with the input debug=true fails its first attempt, so
// its re-run can be shown. Every webhook delivery is printed with herald's answer.
//
//	go run ./cmd/fake-github -listen 127.0.0.1:8082 -token demo-github-token \
//	    -webhook-url http://127.0.0.1:8080/ci/gh/webhook -webhook-secret demo-secret
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herald-ci/herald/ci/github/githubtest"
)

// The demo's repository and workflow.
const (
	repo         = "demo/widgets"
	workflowPath = ".github/workflows/ci.yml"
	workflowYAML = `name: CI
on:
  push:
    branches: [main, develop]
  workflow_dispatch:
    inputs:
      environment:
        description: Where to deploy after the tests
        type: choice
        options: [staging, production]
        default: staging
      debug:
        description: Verbose test output
        type: boolean
        default: false
      note:
        description: A note for the run
        type: string
        required: false
jobs:
  build:
    runs-on: self-hosted
    steps:
      - uses: actions/checkout@v4
      - name: Run tests
        run: make test
`
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fake-github:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fake-github", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8082", "address to serve the REST API on")
	prefix := fs.String("prefix", "", `API path prefix: "" as on github.com, /api/v3 as on GitHub Enterprise Server`)
	token := fs.String("token", "", "bearer token the fake accepts (required)")
	hookURL := fs.String("webhook-url", "", "where to post signed deliveries (herald's /ci/<name>/webhook); empty: none sent")
	secret := fs.String("webhook-secret", "", "webhook secret (X-Hub-Signature-256)")
	interval := fs.Duration("interval", 40*time.Second, "how often a push run is played")
	step := fs.Duration("step", 6*time.Second, "pause between a run's states")
	verbose := fs.Bool("v", false, "log every API request to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		return fmt.Errorf("-token is required")
	}
	if *interval < 3**step {
		return fmt.Errorf("-interval (%s) must be at least three -step (%s): runs would overlap", *interval, *step)
	}
	var out sync.Mutex
	opts := githubtest.Options{
		Prefix: *prefix, Token: *token, WebhookURL: *hookURL, WebhookSecret: *secret,
		OnDelivery: func(d githubtest.Delivery) {
			out.Lock()
			defer out.Unlock()
			fmt.Println(describe(d))
		},
	}
	if *verbose {
		opts.Log = os.Stderr
	}
	srv, err := githubtest.NewOn(*listen, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.AddRepo(repo, "main", "develop")
	wf := srv.AddWorkflow(repo, workflowPath, "CI", workflowYAML)
	srv.AddRunner(repo, "demo-runner-1", true, false)
	srv.SetAutoPlay(&githubtest.AutoPlay{Step: *step, Conclusion: conclusion})
	fmt.Fprintf(os.Stderr, "fake-github: REST API at %s (repository %s, workflow %s); a push run every %s\n", srv.URL(), repo, workflowPath, *interval)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	play(ctx, srv, wf, *interval, *step)
	return nil
}

// conclusion decides how a dispatched or re-run run ends: a first attempt with debug
// on fails (so the chat gets a failure with a re-run button); everything else passes.
func conclusion(_, _, _ string, inputs map[string]any, attempt int) string {
	if attempt == 1 && fmt.Sprint(inputs["debug"]) == "true" {
		return "failure"
	}
	return "success"
}

// pushes is the cycle of played push runs: two green, a break, a fix.
var pushes = []struct {
	message, author, result string
}{
	{"Add the widget catalogue", "Ann Lee", "success"},
	{"Speed up widget search", "Bo Chen", "success"},
	{"Refactor the price rounding", "Ann Lee", "failure"},
	{"Fix the price rounding for negative totals", "Bo Chen", "success"},
}

// play queues, starts and completes a push run every interval until ctx ends. The
// first run comes after three steps, so herald has time to start.
func play(ctx context.Context, srv *githubtest.Server, wf int64, interval, step time.Duration) {
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !wait(2 * step) {
		return
	}
	for i := 0; ; i++ {
		if !wait(step) {
			return
		}
		p := pushes[i%len(pushes)]
		id := srv.QueueRun(repo, wf, githubtest.RunOptions{Branch: "main", Message: p.message, Author: p.author, Actor: strings.ToLower(strings.Fields(p.author)[0])})
		if !wait(step) {
			return
		}
		srv.StartRun(id, "build", "Run tests")
		if !wait(step) {
			return
		}
		failed := ""
		if p.result != "success" {
			failed = "Run tests"
		}
		srv.CompleteRun(id, p.result, "build", failed)
		if !wait(interval - 3*step) {
			return
		}
	}
}

// describe is the line printed for a delivery: what it said and what herald answered.
func describe(d githubtest.Delivery) string {
	what := d.Event
	if d.Action != "" {
		what += "/" + d.Action
	}
	var body struct {
		Run *struct {
			Name       string  `json:"name"`
			Number     int     `json:"run_number"`
			Attempt    int     `json:"run_attempt"`
			Branch     string  `json:"head_branch"`
			Conclusion *string `json:"conclusion"`
		} `json:"workflow_run"`
		Job *struct {
			Name string `json:"name"`
		} `json:"workflow_job"`
	}
	if json.Unmarshal(d.Body, &body) == nil {
		switch {
		case body.Run != nil:
			what += fmt.Sprintf(" (%s #%d", body.Run.Name, body.Run.Number)
			if body.Run.Attempt > 1 {
				what += fmt.Sprintf(" attempt %d", body.Run.Attempt)
			}
			what += " on " + body.Run.Branch
			if body.Run.Conclusion != nil {
				what += ": " + *body.Run.Conclusion
			}
			what += ")"
		case body.Job != nil:
			what += " (job " + body.Job.Name + ")"
		}
	}
	switch {
	case d.Dropped:
		return fmt.Sprintf("[delivery %s %s] dropped", d.ID[:8], what)
	case d.Status == 0 && d.Answer == "":
		return fmt.Sprintf("[delivery %s %s] recorded (no -webhook-url)", d.ID[:8], what)
	case d.Status == 0:
		return fmt.Sprintf("[delivery %s %s] failed: %s", d.ID[:8], what, d.Answer)
	}
	answer := strings.TrimSpace(d.Answer)
	if len(answer) > 120 {
		answer = answer[:120] + "…"
	}
	return fmt.Sprintf("[delivery %s %s] herald answered %d %s", d.ID[:8], what, d.Status, answer)
}
