// Package gitlab is herald's provider for GitLab CI (gitlab.com and self-managed GitLab):
// each followed project is a builder, each run of a pipeline is a build (a retried pipeline
// keeps its id and runs again: every run is a build of its own, see BuildID), the runners
// the token can see are workers.
//
// Pipeline Hook deliveries (X-Gitlab-Event, authenticated by X-Gitlab-Token) are the fast
// path (webhook.go); the REST API is the safety net: ci.Follower polls BuildsChangedSince
// every poll_interval with the pipelines updated after the cursor (changes.go), and /status
// and /last share a short-lived overview (overview.go). /force creates a pipeline on a
// branch with variables, /stop cancels one, and the re-run button retries a failed
// pipeline's failed jobs (force.go). A run of a pipeline is told apart from its others by
// its jobs (pipeline.go).
//
// The REST client and the webhook types are GitLab's own Go client
// (gitlab.com/gitlab-org/api/client-go), whose types follow GitLab's documented schemas;
// herald turns off its retries and its client-side limiter, so that a 429 reaches herald
// and is answered as ci.RetryAfterError (client.go).
package gitlab
