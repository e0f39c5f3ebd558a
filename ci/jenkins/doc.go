// Package jenkins is herald's provider for Jenkins: jobs are builders (jobs inside folders
// and the branch jobs of multibranch pipelines included, by their full names: "app/main"),
// builds are builds, nodes are workers.
//
// Jenkins has no webhooks of its own, so herald follows it by polling: every poll_interval
// one request to the root's api/json with a tree filter reads every followed job and its
// newest builds at once (tree.go, changes.go), however many jobs there are. When the
// Notification plugin is installed, its JSON posts to /ci/<name>/webhook are the fast path
// (webhook.go); the poll stays the safety net. /force runs buildWithParameters with the
// job's parameter definitions as the form and follows the queue item it made, /stop stops a
// build, and the rebuild button runs a finished build's job again with its parameters
// (force.go); POSTs carry a CSRF crumb when Jenkins issues them (client.go).
//
// The client is the standard library's; the JSON it reads is Jenkins' remote access API as
// documented at <jenkins>/api, and jenkinstest is a fake of it written from that
// documentation.
package jenkins
