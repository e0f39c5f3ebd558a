// Package github is herald's provider for GitHub Actions (github.com and GitHub Enterprise
// Server): workflows are builders, each attempt of a workflow run is a build, self-hosted
// runners are workers.
//
// Webhooks (workflow_run, signed with the connection's secret) are the fast path
// (webhook.go); the REST API is the safety net: ci.Follower polls BuildsChangedSince every
// poll_interval (changes.go), with conditional requests so that a poll where nothing changed
// costs none of the hourly rate limit (etag.go). /force is a workflow_dispatch with the inputs
// the workflow file declares (force.go, workflowfile.go), /stop cancels a run, and the
// re-run button re-runs a failed run's failed jobs.
//
// The API types, the REST client, its rate-limit tracking and the HMAC check are go-github's:
// its types follow GitHub's documented payloads field by field and are the same for the
// webhook and the API, so one mapping from a workflow run to a ci.Build serves both
// (payload.go). A GitHub App's installation tokens come from ghinstallation.
package github
