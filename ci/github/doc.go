// Package github is herald's provider for GitHub Actions. This first piece reads the
// webhooks GitHub posts (workflow_run, workflow_job, ping) into raw ci.Events; the API
// client, the follower and the commands come next on the same package.
//
// The payload types and the HMAC check are go-github's: the types follow GitHub's documented
// payloads field by field and are the same the REST client will return, so one mapping from
// a workflow run to a ci.Build serves the webhook and the API.
package github
