package gitlab

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// GitLab's webhook headers.
const (
	headerToken       = "X-Gitlab-Token"      // the webhook's secret token, as written in GitLab
	headerEvent       = "X-Gitlab-Event"      // "Pipeline Hook", "Job Hook", ...
	headerEventUUID   = "X-Gitlab-Event-Uuid" // one id per event
	headerIdempotency = "Idempotency-Key"     // the same across GitLab's retries of a delivery
)

// AttemptFunc reads from the API which run of a pipeline the jobs a Pipeline Hook names
// (the latest jobs when it was sent) belong to, and when that run started (zero for the
// first run: its start is the pipeline's). The hook alone does not tell a retried
// pipeline's runs apart, and a hook read after a retry is still about the run it was
// sent for.
type AttemptFunc func(project string, pipelineID int64, jobIDs []int64) (attempt int, start time.Time, err error)

// ParserConfig is what a Parser needs of its connection.
type ParserConfig struct {
	Conn     string   // the connection's name in herald's config
	Projects []string // full paths of the projects the connection follows
	Secret   string   // the webhook's secret token; empty refuses every delivery
	// Attempt reads a pipeline's run from the API; nil takes every pipeline as its first
	// run (tests of the parser alone), a run without a new job included (see runNumbers).
	Attempt AttemptFunc
	// FailedTrigger names the failed trigger job ("stage / job") of a failed pipeline none
	// of whose jobs the hook names failed: the hook leaves trigger jobs out. nil: the build
	// has no failed step then.
	FailedTrigger func(project string, pipelineID int64) (string, error)
	Clock         func() time.Time
}

// Parser reads the webhooks of one GitLab connection. It implements ci.WebhookParser.
type Parser struct {
	secret   []byte
	projects map[string]string // lower-cased path → the path as configured
	attempt  AttemptFunc
	trigger  func(project string, pipelineID int64) (string, error)
	numbers  *runNumbers // shared with the provider's API reads
	mapper
}

var _ ci.WebhookParser = (*Parser)(nil)

// NewParser returns the parser for one connection.
func NewParser(cfg ParserConfig) *Parser {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	projects := make(map[string]string, len(cfg.Projects))
	for _, pr := range cfg.Projects {
		projects[strings.ToLower(pr)] = pr
	}
	return &Parser{
		secret: []byte(cfg.Secret), projects: projects, attempt: cfg.Attempt, trigger: cfg.FailedTrigger, numbers: &runNumbers{},
		mapper: mapper{conn: cfg.Conn, prefixed: len(projects) > 1, clock: cfg.Clock},
	}
}

// ParseWebhook checks the delivery's token, then reads it. See ci.WebhookParser. The
// delivery's id is GitLab's Idempotency-Key, which its retries of a delivery keep, else
// X-Gitlab-Event-UUID.
func (p *Parser) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	if err := p.checkToken(header.Get(headerToken)); err != nil {
		return ci.Delivery{}, err
	}
	id := header.Get(headerIdempotency)
	if id == "" {
		id = header.Get(headerEventUUID)
	}
	d := ci.Delivery{ID: ci.CleanText(id)}
	switch event := header.Get(headerEvent); event {
	case "":
		return ci.Delivery{}, errors.New("gitlab: no " + headerEvent + " header")
	case string(gl.EventTypePipeline):
	case string(gl.EventTypeJob):
		// A job's progress would be the running build's CurrentStep, but no raw event kind
		// carries a change of a running build: the API's RunningBuilds shows it.
		return ci.Delivery{}, ci.IgnoreEvent("Job Hook: job progress is read from the API")
	default:
		return ci.Delivery{}, ci.IgnoreEvent(fmt.Sprintf("event %s is not followed", ci.CleanText(event)))
	}
	ev, err := p.pipeline(body)
	if err != nil {
		return ci.Delivery{}, err
	}
	d.Events = []ci.Event{ev}
	return d, nil
}

// checkToken compares the token in constant time. An empty secret refuses everything: a
// delivery without a token would otherwise be taken from anyone.
func (p *Parser) checkToken(token string) error {
	switch {
	case len(p.secret) == 0:
		return ci.BadSignature("no webhook secret is configured for this connection")
	case token == "":
		return ci.BadSignature("no " + headerToken + " header")
	case subtle.ConstantTimeCompare([]byte(token), p.secret) != 1:
		return ci.BadSignature(headerToken + " does not match the connection's webhook secret")
	}
	return nil
}

func (p *Parser) pipeline(body []byte) (ci.Event, error) {
	var e gl.PipelineEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return ci.Event{}, fmt.Errorf("gitlab: Pipeline Hook: %w", err)
	}
	path := e.Project.PathWithNamespace
	if path == "" {
		return ci.Event{}, errors.New("gitlab: Pipeline Hook: no project.path_with_namespace")
	}
	project, ok := p.projects[strings.ToLower(path)]
	if !ok {
		return ci.Event{}, ci.IgnoreEvent(fmt.Sprintf("project %s is not followed", ci.CleanText(path)))
	}
	a := e.ObjectAttributes
	if a.ID <= 0 || a.Status == "" {
		return ci.Event{}, errors.New("gitlab: Pipeline Hook: no object_attributes.id or status")
	}
	if a.Source == childSource {
		return ci.Event{}, ci.IgnoreEvent(fmt.Sprintf("pipeline %d is a child pipeline; its parent is followed", a.ID))
	}
	if Waiting(a.Status) {
		return ci.Event{}, ci.IgnoreEvent(fmt.Sprintf("pipeline status %s is neither started nor finished", ci.CleanText(a.Status)))
	}
	r, err := hookRun(project, &e)
	if err != nil {
		return ci.Event{}, err
	}
	if p.attempt != nil {
		ids := make([]int64, len(e.Builds))
		for i, b := range e.Builds {
			ids[i] = b.ID
		}
		n, start, err := p.attempt(project, a.ID, ids)
		if err != nil {
			// Unanswered it would be lost to GitLab, which does not deliver again what was
			// answered 4xx; the next poll reads the pipeline whole.
			return ci.Event{}, ci.IgnoreEvent(fmt.Sprintf("the run of pipeline %d could not be read from the API; the next poll reports it", a.ID))
		}
		r.attempt = n
		if n > 1 && !start.IsZero() {
			r.startedAt = start
		}
		p.numbers.number(&r, Result(r.status, r.jobs) != ci.ResultNone)
	}
	if p.trigger != nil && r.status == "failed" && failedStep(r.jobs) == "" {
		if step, err := p.trigger(project, a.ID); err == nil && step != "" {
			r.jobs = append(r.jobs, job{name: step, status: "failed"})
		}
	}
	b, err := p.build(r)
	if err != nil {
		return ci.Event{}, fmt.Errorf("gitlab: Pipeline Hook: %w", err)
	}
	kind, at := ci.KindStarted, b.StartedAt
	if b.Complete {
		kind, at = ci.KindFinished, b.FinishedAt
	}
	if at.IsZero() {
		at = p.clock()
	}
	return ci.Event{Conn: p.conn, Kind: kind, Build: &b, At: at}, nil
}

// hookRun reads a Pipeline Hook into a run (its first attempt; see AttemptFunc). The hook
// has no started_at: the run started when its first job did, or else when it was made.
func hookRun(project string, e *gl.PipelineEvent) (run, error) {
	a := e.ObjectAttributes
	created, err1 := hookTime(a.CreatedAt)
	finished, err2 := hookTime(a.FinishedAt)
	if err := errors.Join(err1, err2); err != nil {
		return run{}, fmt.Errorf("gitlab: Pipeline Hook: %w", err)
	}
	r := run{
		project: project, id: a.ID, iid: a.IID, status: a.Status, ref: a.Ref, sha: a.SHA, webURL: a.URL,
		author: e.Commit.Author.Name, title: e.Commit.Title, createdAt: created, finishedAt: finished, attempt: 1,
	}
	if r.title == "" {
		r.title = subject(e.Commit.Message)
	}
	if e.MergeRequest.IID > 0 {
		r.ref = mergeRequestBranch(e.MergeRequest.IID) // not the source branch: see apiBranch
	}
	if r.webURL == "" && e.Project.WebURL != "" {
		r.webURL = fmt.Sprintf("%s/-/pipelines/%d", strings.TrimSuffix(e.Project.WebURL, "/"), a.ID)
	}
	if e.User != nil {
		r.user = e.User.Username
	}
	stage := map[string]int{}
	for i, s := range a.Stages {
		stage[s] = i
	}
	builds := append([]gl.PipelineEventBuild(nil), e.Builds...)
	sort.SliceStable(builds, func(i, j int) bool {
		si, sj := stage[builds[i].Stage], stage[builds[j].Stage]
		if si != sj {
			return si < sj
		}
		return builds[i].ID < builds[j].ID
	})
	for _, b := range builds {
		r.jobs = append(r.jobs, job{id: b.ID, name: b.Name, stage: b.Stage, status: b.Status, allowFailure: b.AllowFailure})
		if t, err := hookTime(b.StartedAt); err == nil && !t.IsZero() && (r.startedAt.IsZero() || t.Before(r.startedAt)) {
			r.startedAt = t
		}
	}
	return r, nil
}

// hookTimeLayouts are the ways GitLab writes a time in a hook: "2016-08-12 15:23:28 UTC"
// in most, RFC 3339 in some.
var hookTimeLayouts = []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700", time.RFC3339Nano}

// hookTime reads a hook's time; empty (null) is the zero time.
func hookTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range hookTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not GitLab's", ci.CleanText(s))
}
