// Package jenkinstest is a fake of Jenkins' remote access API and of the Notification
// plugin, for herald's Jenkins provider (ci/jenkins) and for end-to-end tests of the herald
// binary.
//
// It is written from Jenkins' documentation (the /api pages every Jenkins serves, the
// Pipeline: Stage View plugin's workflow API, the Notification plugin's JSON format), not
// from what herald sends:
//
//   - Basic authorization with Options.Username and its API token; a wrong one answers
//     401 with WWW-Authenticate: Basic realm="Jenkins" and "Invalid password/token for
//     user: NAME", none answers 403 "Authentication required" for anonymous. Errors are
//     Jetty's HTML pages, the message in their title.
//   - api/json of the root, of jobs (folders and multibranch pipelines holding jobs, their
//     branch jobs named with / encoded as %2F), of builds, of queue items and of
//     computer/; the tree parameter is honoured (nested fields, * and the {M,N}, {M,},
//     {,N}, {N} ranges), and every object keeps its _class. Without a tree, nested objects
//     are shown by name and url only, as depth 0 does.
//   - Builds with their causes, parameters (a password's value never shown) and the git
//     plugin's BuildData; wfapi/describe for Pipeline builds (404 for freestyle ones).
//   - POST build and buildWithParameters answer 201 with Location: <root>/queue/item/N/;
//     the item is a BuildableItem until it starts (Start, or at once with AutoStart), then
//     a LeftItem whose executable is the build, or cancelled (Cancel). POST <build>/stop
//     aborts a running build and answers 302 to its page.
//   - With Options.CSRF, crumbIssuer/api/json issues a crumb bound to the JSESSIONID
//     session it sets, and every POST without it answers 403 "No valid crumb was included
//     in the request". Without CSRF the issuer answers 404.
//   - Jobs made with JobOptions.Notify post the plugin's JSON at every phase (QUEUED and
//     STARTED as the build starts, COMPLETED, FINALIZED) to Options.NotifyURL, one at a
//     time in order, with the URL's user info as Basic authorization, as the plugin's HTTP
//     protocol does; a Pipeline's posts carry an empty scm.
//     DropNotifications loses some, Redeliver posts one again, Notifications lists them
//     with herald's answers.
//
// In a Go test:
//
//	jk, err := jenkinstest.New(jenkinstest.Options{Username: "herald", Token: "t", CSRF: true})
//	defer jk.Close()
//	jk.AddJob("app/deploy", jenkinstest.JobOptions{Pipeline: true, Params: []jenkinstest.ParamDef{
//		{Name: "TARGET", Type: jenkinstest.ParamChoice, Choices: []string{"staging", "production"}}}})
//	q := jk.Enqueue("app/deploy", jenkinstest.Trigger{Cause: jenkinstest.SCMCause, SHA: "abc", Branch: "origin/main"})
//	n := jk.Start(q)
//	jk.Stages("app/deploy", n, jenkinstest.Stage{Name: "Test", Status: "IN_PROGRESS"})
//	jk.Finish("app/deploy", n, "FAILURE")
//
// Differences from Jenkins: Jenkins (since 2.96) does not ask a request authenticated by an
// API token for a crumb; the fake, with CSRF on, asks every POST, so a client's crumb
// handling is exercised. Build pages and logs are not served; a build's duration is the
// fake clock's time from its start to its end; a branch job's stages are whatever the test
// sets; the notification's timestamp is the fake clock's at the phase, in milliseconds.
package jenkinstest
