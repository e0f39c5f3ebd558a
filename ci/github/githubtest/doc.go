// Package githubtest is a fake of GitHub's REST API and webhooks, for herald's GitHub
// Actions provider (ci/github) and for end-to-end tests of the herald binary; the
// command cmd/fake-github serves it for the demo.
//
// It is written from GitHub's REST documentation, not from what herald sends, and
// shares no types with any client library, so a client that works against it works
// against the documented API:
//
//   - Authorization "Bearer X" or "token X" with Options.Token, or an installation
//     token from POST /app/installations/{id}/access_tokens (an RS256 JWT of
//     Options.App); anything else answers 401 {"message":"Bad credentials",…}.
//   - Repositories, branches, workflow files (the contents API, base64), workflows,
//     runs with the documented filters (actor, branch, event, status or conclusion,
//     created in search syntax, head_sha, check_suite_id) and pagination (per_page up
//     to 100, Link rel=next/last/first/prev), attempts, jobs with steps, self-hosted
//     runners, workflow_dispatch (with GitHub's 422 messages; return_run_details;
//     every input a string, at most 25; the workflow file as the ref holds it, see
//     SetWorkflowFile), cancel (202, the run stopping a moment later: CancelDelay,
//     SettleCancels; 409 once completed) and rerun-failed-jobs (403 while running).
//   - Runs waiting for approval (completed, action_required, then ApproveRun), held in
//     waiting or pending (HoldRun), without a name, or from a fork (RunOptions).
//   - Every 200 to a GET has an ETag; a matching If-None-Match answers 304, which
//     does not count against the primary limit. Every answer has the x-ratelimit-*
//     headers; an hour's requests spent answers 403 with remaining 0. Limit answers
//     secondary limits (403 or 429 with Retry-After).
//   - Every state change of a run posts a workflow_run delivery (requested,
//     in_progress, completed) and job changes workflow_job deliveries (queued,
//     in_progress, completed), signed (X-Hub-Signature-256 and X-Hub-Signature), one
//     at a time in order from a goroutine. As on GitHub, a failed delivery is not
//     retried: herald's status and answer are recorded (Deliveries), and Redeliver
//     sends one again with the same X-GitHub-Delivery. DropWebhooks loses some. The
//     last MaxDeliveries are kept.
//
// In a Go test:
//
//	gh, err := githubtest.New(githubtest.Options{Token: "t", WebhookURL: heraldURL + "/ci/gh/webhook", WebhookSecret: "s"})
//	defer gh.Close()
//	gh.AddRepo("acme/widgets", "main", "develop")
//	wf := gh.AddWorkflow("acme/widgets", ".github/workflows/ci.yml", "CI", "on: push\njobs: {}\n")
//	id := gh.QueueRun("acme/widgets", wf, githubtest.RunOptions{})
//	gh.StartRun(id, "build", "Run tests")
//	gh.CompleteRun(id, "failure", "build", "Run tests")
//	// workflow_run requested, in_progress, completed and the job's deliveries:
//	err = gh.WaitFor(ctx, func() bool { return len(gh.Deliveries()) >= 6 })
//
// # Trying herald by hand
//
// cmd/fake-github serves the API on a fixed address with a demo repository that plays
// runs by itself and prints every delivery with herald's answer (make run starts it):
//
//	go run ./cmd/fake-github -listen 127.0.0.1:8082 -token demo-github-token \
//	    -webhook-url http://127.0.0.1:8080/ci/gh/webhook -webhook-secret demo-secret
//
// Differences from GitHub: html_url values point at the fake's own host, which serves
// no pages; repositories hold only their workflow files; every run's pull_requests is
// empty; jobs run one after another, named by StartRun and CompleteRun.
package githubtest
