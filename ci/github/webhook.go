package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gh "github.com/google/go-github/v89/github"

	"github.com/herald-ci/herald/ci"
)

// GitHub's webhook headers. Go canonicalises header names, so these match however GitHub
// spells them (it sends X-GitHub-Event).
const (
	headerSignature = gh.SHA256SignatureHeader // "sha256=" + hex HMAC-SHA256 of the raw body
	headerEvent     = gh.EventTypeHeader
	headerDelivery  = gh.DeliveryIDHeader
)

const signaturePrefix = "sha256="

// ParserConfig is what a Parser needs of its connection.
type ParserConfig struct {
	Conn   string   // the connection's name in herald's config
	Repos  []string // owner/name of every repository the connection follows
	Secret string   // the webhook secret; empty refuses every delivery
	Clock  func() time.Time
	// WorkflowName, if set, names a workflow by its repository (owner/name) and id, for a
	// delivery whose run and workflow both have an empty name; "" when it cannot.
	WorkflowName func(repo string, workflowID int64) string
}

// Parser reads the webhooks of one GitHub connection. It implements ci.WebhookParser.
type Parser struct {
	conn     string
	secret   []byte
	repos    map[string]bool // lower-cased owner/name: GitHub matches them case-insensitively
	prefixed bool            // builders are "<repo>/<workflow>" when several repos share a connection
	clock    func() time.Time

	workflowName func(repo string, workflowID int64) string // ParserConfig.WorkflowName
}

var _ ci.WebhookParser = (*Parser)(nil)

// NewParser returns the parser for one connection.
func NewParser(cfg ParserConfig) *Parser {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	repos := make(map[string]bool, len(cfg.Repos))
	for _, r := range cfg.Repos {
		repos[strings.ToLower(r)] = true
	}
	return &Parser{
		conn: cfg.Conn, secret: []byte(cfg.Secret), repos: repos,
		prefixed: len(repos) > 1, clock: cfg.Clock, workflowName: cfg.WorkflowName,
	}
}

// ParseWebhook checks the delivery's signature, then reads it. See ci.WebhookParser.
func (p *Parser) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	if err := p.checkSignature(header.Get(headerSignature), body); err != nil {
		return ci.Delivery{}, err
	}
	if formEncoded(header, body) {
		// GitHub's other content type posts payload=<url-encoded JSON>: every event would
		// fail to parse while the ping, which herald ignores, succeeds.
		return ci.Delivery{}, errors.New("github: the delivery is form-encoded: set the webhook's Content type to application/json")
	}
	d := ci.Delivery{ID: ci.CleanText(header.Get(headerDelivery))}
	event := header.Get(headerEvent)
	switch event {
	case "":
		return ci.Delivery{}, errors.New("github: no " + headerEvent + " header")
	case "ping":
		return ci.Delivery{}, ci.IgnoreEvent("ping")
	case "workflow_job":
		// A job's current step would be the running build's CurrentStep, but no raw event
		// kind carries a change of a running build: sent as "started" it has the run's
		// started key and is dropped as a duplicate. It waits for such a kind.
		return ci.Delivery{}, ci.IgnoreEvent("workflow_job: job and step progress is not reported yet; runs come from workflow_run")
	case "workflow_run":
	default:
		return ci.Delivery{}, ci.IgnoreEvent(fmt.Sprintf("event %s is not followed", ci.CleanText(event)))
	}
	evs, err := p.workflowRun(body)
	if err != nil {
		return ci.Delivery{}, err
	}
	d.Events = evs
	return d, nil
}

// formEncoded says whether a delivery is the webhook's application/x-www-form-urlencoded
// form rather than JSON.
func formEncoded(header http.Header, body []byte) bool {
	ct, _, _ := strings.Cut(header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") ||
		bytes.HasPrefix(bytes.TrimSpace(body), []byte("payload="))
}

// checkSignature insists on the SHA-256 form: go-github's check also takes SHA-1, which
// GitHub sends only in its legacy header and herald does not trust.
func (p *Parser) checkSignature(sig string, body []byte) error {
	switch {
	case len(p.secret) == 0:
		// An empty key is a MAC anyone can compute.
		return ci.BadSignature("no webhook secret is configured for this connection")
	case sig == "":
		return ci.BadSignature("no " + headerSignature + " header")
	case !strings.HasPrefix(sig, signaturePrefix):
		return ci.BadSignature(headerSignature + " is not sha256=<hex>")
	}
	if err := gh.ValidateSignature(sig, body, p.secret); err != nil {
		return ci.BadSignature(headerSignature + " does not match the body")
	}
	return nil
}

func (p *Parser) workflowRun(body []byte) ([]ci.Event, error) {
	var e gh.WorkflowRunEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("github: workflow_run: %w", err)
	}
	if e.Repo == nil || e.Repo.GetFullName() == "" {
		return nil, errors.New("github: workflow_run: no repository.full_name")
	}
	if repo := e.Repo.GetFullName(); !p.repos[strings.ToLower(repo)] {
		return nil, ci.IgnoreEvent(fmt.Sprintf("repository %s is not followed", ci.CleanText(repo)))
	}
	switch a := e.GetAction(); a {
	case "requested", "in_progress", "completed":
	case "":
		return nil, errors.New("github: workflow_run: no action")
	default:
		return nil, ci.IgnoreEvent(fmt.Sprintf("workflow_run action %s is not followed", ci.CleanText(a)))
	}
	if e.WorkflowRun == nil {
		return nil, errors.New("github: workflow_run: no workflow_run object")
	}
	if e.GetAction() == "completed" && e.WorkflowRun.GetStatus() != "completed" {
		// GitHub sends completed for a completed run; a payload that says otherwise is
		// taken at its action's word, so its conclusion is required.
		run := *e.WorkflowRun
		run.Status = gh.Ptr("completed")
		e.WorkflowRun = &run
	}
	if awaitingApproval(e.WorkflowRun) {
		return nil, ci.IgnoreEvent("workflow_run waits for approval (action_required); it is reported once it runs")
	}
	wfName := e.GetWorkflow().GetName()
	if wfName == "" && e.WorkflowRun.GetName() == "" && p.workflowName != nil {
		wfName = p.workflowName(e.Repo.GetFullName(), e.WorkflowRun.GetWorkflowID())
	}
	b, err := p.build(e.WorkflowRun, e.Repo, wfName)
	if err != nil {
		return nil, fmt.Errorf("github: workflow_run: %w", err)
	}
	now := p.clock()
	plausible := func(t time.Time) time.Time {
		if t.IsZero() {
			t = ci.PlausibleTime(e.WorkflowRun.GetUpdatedAt().Time, now)
		}
		if t.IsZero() {
			t = now
		}
		return t
	}
	if !b.Complete {
		return []ci.Event{{Conn: p.conn, Kind: ci.KindStarted, Build: &b, At: plausible(b.StartedAt)}}, nil
	}
	fin := ci.Event{Conn: p.conn, Kind: ci.KindFinished, Build: &b, At: plausible(b.FinishedAt)}
	if e.GetAction() == "completed" {
		return []ci.Event{fin}, nil
	}
	// A requested or in_progress delivery of a run that is over already (one that failed at
	// startup): its start and its end, as a catch-up reports them; the completed delivery
	// that may follow has the same keys.
	sb := ci.StartedView(b)
	return []ci.Event{{Conn: p.conn, Kind: ci.KindStarted, Build: &sb, At: plausible(b.StartedAt)}, fin}, nil
}
