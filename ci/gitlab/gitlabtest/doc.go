// Package gitlabtest is a fake of GitLab's REST API (v4) and webhooks, for herald's GitLab
// CI provider (ci/gitlab) and for end-to-end tests of the herald binary.
//
// It is written from GitLab's REST and webhook documentation, not from what herald sends,
// and shares no types with any client library, so a client that works against it works
// against the documented API:
//
//   - PRIVATE-TOKEN: X or Authorization: Bearer X with Options.Token; anything else answers
//     401 {"message":"401 Unauthorized"}. A project is named by its numeric id or its
//     URL-encoded full path (group%2Fapp); an unknown one answers 404
//     {"message":"404 Project Not Found"}.
//   - Projects, branches, pipelines with the documented filters (scope, status, ref,
//     updated_after/before, order_by id|status|ref|updated_at|user_id, sort) and offset
//     pagination (per_page 20 by default, at most 100; X-Page, X-Per-Page, X-Total,
//     X-Total-Pages, X-Next-Page, X-Prev-Page and Link rel=prev/next/first/last), a
//     pipeline, its jobs (include_retried, scope[]), creating a pipeline on a ref with
//     variables, cancelling and retrying one, and the runners available to the user.
//   - Every answer has the RateLimit-* headers of GitLab's rate limits; past
//     Options.RateLimit requests in a minute it answers 429 "Retry later" with
//     Retry-After. Throttle answers the next requests 429 at once.
//   - Every status change of a pipeline posts a Pipeline Hook, and of a job a Job Hook,
//     with X-Gitlab-Token, X-Gitlab-Event, X-Gitlab-Event-UUID, X-Gitlab-Webhook-UUID,
//     X-Gitlab-Instance and Idempotency-Key, one at a time in order from a goroutine.
//     Deliveries records each with the receiver's answer; DropWebhooks loses the next
//     ones; Redeliver sends one again with the same UUID and Idempotency-Key.
//
// Pipelines are played by the test: CreatePipeline (or POST /projects/:id/pipeline) makes
// one with its jobs in stages, Start runs it, Finish ends every job as its JobSpec says.
// A retry makes a new job for every failed or canceled one, as GitLab does, and the
// pipeline runs again under its id.
//
// Differences from GitLab: web_url values point at the fake's own host, which serves no
// pages; repositories hold branches only; every job runs on no runner.
package gitlabtest
