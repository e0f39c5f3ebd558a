package jenkins

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/glob"
)

// The Notification plugin posts a job's state as JSON at every phase of a build (QUEUED,
// STARTED, COMPLETED, FINALIZED) to each endpoint URL a job lists. It sends no signature and
// no header of its own, but when the endpoint URL carries user info
// (https://herald:SECRET@herald.example.com/ci/jk/webhook) it sends it as Basic
// authorization: herald takes that password as the shared secret and compares it in
// constant time. The user name is not checked. Nothing else of the plugin's JSON is trusted
// more than the poll: a delivery is the fast path, and the next poll reads the same build
// from the API.

// ParserConfig is what a Parser needs of its connection.
type ParserConfig struct {
	Conn   string   // the connection's name in herald's config
	Jobs   []string // the jobs followed (globs); empty: all
	Secret string   // the endpoint URL's password; empty refuses every delivery
	Root   string   // Jenkins' root, for a payload without its full_url
	Clock  func() time.Time
	// BranchOf, if set, names the branch of a multibranch pipeline's branch job (the payload
	// does not say its job is one); "" when it is not one.
	BranchOf func(fullName string) string
}

// Parser reads the Notification plugin's posts for one connection. It implements
// ci.WebhookParser.
type Parser struct {
	cfg  ParserConfig
	jobs []glob.Pattern
}

var _ ci.WebhookParser = (*Parser)(nil)

// NewParser returns the parser for one connection; a bad job pattern follows no job (the
// config's validation reports it).
func NewParser(cfg ParserConfig) *Parser {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	p := &Parser{cfg: cfg}
	for _, j := range cfg.Jobs {
		if pat, err := glob.Compile(j); err == nil {
			p.jobs = append(p.jobs, pat)
		}
	}
	return p
}

// notificationJSON is the plugin's JSON format (its field names are its model's, in
// lower_case_with_underscores), the fields herald reads.
type notificationJSON struct {
	Name  string `json:"name"`
	URL   string `json:"url"` // the job's path below the root: job/app/job/main/
	Build *struct {
		FullURL    string            `json:"full_url"`
		Number     int               `json:"number"`
		QueueID    int64             `json:"queue_id"`
		Phase      string            `json:"phase"`
		Status     string            `json:"status"` // the result, once there is one
		URL        string            `json:"url"`    // the build's path below the root
		Timestamp  json.RawMessage   `json:"timestamp"`
		Duration   int64             `json:"duration"`
		Parameters map[string]string `json:"parameters"`
		SCM        struct {
			URL    string `json:"url"`
			Branch string `json:"branch"`
			Commit string `json:"commit"`
		} `json:"scm"`
	} `json:"build"`
}

// ParseWebhook checks the secret, then reads the post. See ci.WebhookParser.
func (p *Parser) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	if err := p.checkSecret(header.Get("Authorization")); err != nil {
		return ci.Delivery{}, err
	}
	var n notificationJSON
	if err := json.Unmarshal(body, &n); err != nil {
		return ci.Delivery{}, fmt.Errorf("jenkins: notification: %w", err)
	}
	if n.Build == nil {
		return ci.Delivery{}, errors.New("jenkins: notification: no build object")
	}
	var kind ci.Kind
	switch ph := n.Build.Phase; ph {
	case "STARTED":
		kind = ci.KindStarted
	case "COMPLETED", "FINALIZED":
		// Both say the build ended: the second is the same event (by key) and changes nothing.
		kind = ci.KindFinished
	case "QUEUED":
		return ci.Delivery{}, ci.IgnoreEvent("phase QUEUED: herald reports builds when they start")
	case "":
		return ci.Delivery{}, errors.New("jenkins: notification: no build.phase")
	default:
		return ci.Delivery{}, ci.IgnoreEvent(fmt.Sprintf("phase %s is not followed", ci.CleanText(ph)))
	}
	full, err := fullNameOf(n.URL, n.Name)
	if err != nil {
		return ci.Delivery{}, err
	}
	if !p.follows(full) {
		return ci.Delivery{}, ci.IgnoreEvent(fmt.Sprintf("job %s is not followed", full))
	}
	if n.Build.Number <= 0 {
		return ci.Delivery{}, errors.New("jenkins: notification: no build.number")
	}
	if kind == ci.KindFinished && n.Build.Status == "" {
		return ci.Delivery{}, fmt.Errorf("jenkins: notification: phase %s without build.status", n.Build.Phase)
	}
	now := p.cfg.Clock()
	at := ci.PlausibleTime(notificationTime(n.Build.Timestamp), now)
	if at.IsZero() {
		at = now
	}
	b := ci.Build{
		Conn:      p.cfg.Conn,
		ID:        buildID(full, n.Build.Number, n.Build.QueueID),
		Number:    n.Build.Number,
		Builder:   full,
		BuilderID: full,
		RequestID: queueRequestID(n.Build.QueueID),
		Revision:  n.Build.SCM.Commit,
		URL:       n.Build.FullURL,
		StateText: "building",
	}
	if b.URL == "" && n.Build.URL != "" {
		b.URL = strings.TrimSuffix(p.cfg.Root, "/") + "/" + strings.TrimPrefix(n.Build.URL, "/")
	}
	switch {
	case p.cfg.BranchOf != nil && p.cfg.BranchOf(full) != "":
		b.Branch = p.cfg.BranchOf(full)
	case n.Build.Parameters["BRANCH_NAME"] != "":
		b.Branch = n.Build.Parameters["BRANCH_NAME"]
	case n.Build.Parameters["GIT_BRANCH"] != "":
		b.Branch = gitBranch(n.Build.Parameters["GIT_BRANCH"])
	case n.Build.SCM.Branch != "":
		b.Branch = gitBranch(n.Build.SCM.Branch)
	}
	if kind == ci.KindStarted {
		b.StartedAt = at
	} else {
		b.Complete = true
		b.Result = Result(n.Build.Status)
		b.StateText = strings.ToLower(n.Build.Status)
		b.FinishedAt = at
		// COMPLETED is posted as the build ends, so its start is its duration before;
		// FINALIZED comes later (its logs and artifacts saved), so it says no start: the
		// poll's stands.
		if n.Build.Duration > 0 && n.Build.Phase == "COMPLETED" {
			b.StartedAt = at.Add(-time.Duration(n.Build.Duration) * time.Millisecond)
		}
	}
	b = ci.CleanBuild(b, now)
	return ci.Delivery{Events: []ci.Event{{Conn: p.cfg.Conn, Kind: kind, Build: &b, At: at}}}, nil
}

// checkSecret compares the Basic password with the secret in constant time. The plugin
// sends the URL's user info as Java keeps it, still percent-encoded, so a secret with
// characters a URL must escape matches either way.
func (p *Parser) checkSecret(auth string) error {
	if p.cfg.Secret == "" {
		return ci.BadSignature("no webhook secret is configured for this connection")
	}
	if auth == "" {
		return ci.BadSignature("no Authorization header: the endpoint URL must carry the secret, as https://herald:<secret>@HOST/ci/NAME/webhook")
	}
	r := &http.Request{Header: http.Header{"Authorization": {auth}}}
	_, pass, ok := r.BasicAuth()
	if !ok {
		return ci.BadSignature("the Authorization header is not Basic user:secret")
	}
	match := subtle.ConstantTimeCompare([]byte(pass), []byte(p.cfg.Secret)) == 1
	if dec, err := url.PathUnescape(pass); err == nil && dec != pass {
		match = subtle.ConstantTimeCompare([]byte(dec), []byte(p.cfg.Secret)) == 1 || match
	}
	if !match {
		return ci.BadSignature("the password in the Authorization header is not the webhook secret")
	}
	return nil
}

func (p *Parser) follows(full string) bool {
	if len(p.cfg.Jobs) == 0 {
		return true
	}
	for _, pat := range p.jobs {
		if pat.Match(full) {
			return true
		}
	}
	return false
}

// fullNameOf is a job's full name from its path below the root ("job/app/job/main/" is
// app/main); a payload without the path names a top-level job.
func fullNameOf(path, name string) (string, error) {
	if path == "" {
		if name == "" {
			return "", errors.New("jenkins: notification: no name or url of the job")
		}
		return ci.CleanText(name), nil
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var names []string
	for i := 0; i < len(segs); i++ {
		if segs[i] != "job" || i+1 >= len(segs) {
			return "", fmt.Errorf("jenkins: notification: url %q is not job/NAME/…", ci.CleanText(path))
		}
		n, err := url.PathUnescape(segs[i+1])
		if err != nil || n == "" {
			return "", fmt.Errorf("jenkins: notification: url %q is not job/NAME/…", ci.CleanText(path))
		}
		names = append(names, n)
		i++
	}
	return ci.CleanText(strings.Join(names, "/")), nil
}

// notificationTime reads the plugin's timestamp: milliseconds, or (in older releases) text
// like 2026-12-01T10:00:00.5+00:00. Anything else is the zero time.
func notificationTime(raw json.RawMessage) time.Time {
	var ms int64
	if json.Unmarshal(raw, &ms) == nil {
		return msTime(ms)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// WebhookBuildTimeout bounds the request ParseWebhook makes for a posted build (and the
// one for its failed stage): the plugin waits for herald's answer before its next post.
const WebhookBuildTimeout = 3 * time.Second

// ParseWebhook reads a post of the Notification plugin (see Parser), naming the branch of a
// multibranch pipeline's branch job as the last poll found it. A post says nothing of who
// or what started the build, nor its failed stage, and a Pipeline's post often no branch:
// the provider reads the build from the API (WebhookBuildTimeout at most) and takes from it
// the owner, reason, branch, revision, times and failed stage, as a poll would give them.
// When Jenkins does not answer in time the event goes on as posted, rather than being held
// up or lost.
func (p *Provider) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	d, err := p.parser.ParseWebhook(header, body)
	if err != nil {
		return d, err
	}
	for i, ev := range d.Events {
		if ev.Build == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), WebhookBuildTimeout)
		b, err := p.enrich(ctx, *ev.Build)
		cancel()
		if err != nil {
			p.log.Warn().Err(err).Str("build", ev.Build.ID).Msg("jenkins: a posted build could not be read; reported as posted")
			continue
		}
		d.Events[i].Build = &b
	}
	return d, nil
}

// enrich fills a posted build from the API. The post's kind and result stand: the API may
// still say building while COMPLETED is posted (the build is finalized after).
func (p *Provider) enrich(ctx context.Context, posted ci.Build) (ci.Build, error) {
	name, number, err := parseBuildID(posted.ID)
	if err != nil {
		return posted, err
	}
	var jb buildJSON
	if err := p.c.getJSON(ctx, buildPath(name, number)+"api/json", url.Values{"tree": {buildTree}}, &jb); err != nil {
		return posted, p.apiError("read build "+posted.ID, err)
	}
	now := p.now()
	api, ok := toBuild(p.cfg.Name, job{FullName: name, Branch: p.knownBranch(name)}, jb, now)
	if !ok || api.ID != posted.ID {
		return posted, fmt.Errorf("jenkins: %s: build %s is not the one posted (%s)", p.cfg.Name, ci.CleanText(posted.ID), api.ID)
	}
	b := posted
	b.Owner, b.Reason, b.Branch = api.Owner, api.Reason, api.Branch
	if api.Revision != "" {
		b.Revision = api.Revision
	}
	if api.URL != "" {
		b.URL = api.URL
	}
	if !api.StartedAt.IsZero() {
		b.StartedAt = api.StartedAt
		if b.Complete && jb.Duration > 0 {
			b.FinishedAt = api.StartedAt.Add(time.Duration(jb.Duration) * time.Millisecond)
		}
	}
	// Only a failure wants its stage, as in a poll: a running build's changes by the second.
	bs := []ci.Build{ci.CleanBuild(b, now)}
	p.addStages(ctx, bs, []bool{isPipeline(jb) && b.Complete})
	return bs[0], nil
}
