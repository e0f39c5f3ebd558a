package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/herald-ci/herald/ci"
)

// DefaultURL is GitLab.com.
const DefaultURL = "https://gitlab.com"

// DefaultPollInterval is how often herald lists the pipelines that changed, when the config
// does not say.
const DefaultPollInterval = 60 * time.Second

// WebhookAttemptTimeout bounds the one request ParseWebhook makes for a pipeline's run:
// GitLab gives a delivery 10 seconds before it calls it failed.
const WebhookAttemptTimeout = 3 * time.Second

// Config is one GitLab connection from herald's config.
type Config struct {
	Name          string   // connection name
	URL           string   // the instance; empty means DefaultURL
	Projects      []string // full paths of the projects followed
	Token         string   // a personal, group or project access token
	TokenHeader   string   // HeaderPrivateToken (empty) or HeaderAuthorization
	WebhookSecret string   // empty: webhooks are refused (401) and herald polls only
	PollInterval  time.Duration
	HTTPClient    *http.Client  // nil means a client with a 30 s timeout
	OverviewTTL   time.Duration // how long an Overview is reused; zero means DefaultOverviewTTL
	Clock         func() time.Time
}

// Provider follows the pipelines of one or more projects on one GitLab instance. It is safe
// for concurrent use.
type Provider struct {
	cfg       Config
	gl        *gl.Client
	projects  []string
	parser    *Parser
	pipelines pipelineProjects // pipeline id → its project
	resume    resumePoints     // where a catch-up cut short reads on, per project
	ov        ci.OverviewCache // the overview shared by every caller (overview.go)
	log       zerolog.Logger
	now       func() time.Time
}

var (
	_ ci.Provider      = (*Provider)(nil)
	_ ci.WebhookParser = (*Provider)(nil)
)

// New checks cfg and makes a provider; it does not contact GitLab. Its errors never quote
// the token.
func New(cfg Config, log zerolog.Logger) (*Provider, error) {
	if cfg.Name == "" {
		return nil, errors.New("gitlab: config: name is empty")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if msg := checkURL(cfg.URL); msg != "" {
		return nil, fmt.Errorf("gitlab: config %s: %s", cfg.Name, msg)
	}
	if len(cfg.Projects) == 0 {
		return nil, fmt.Errorf("gitlab: config %s: no project to follow", cfg.Name)
	}
	var projects []string
	seen := map[string]bool{}
	for _, pr := range cfg.Projects {
		if !validProject(pr) {
			return nil, fmt.Errorf("gitlab: config %s: %q is not a project's full path", cfg.Name, ci.CleanText(pr))
		}
		if k := strings.ToLower(pr); !seen[k] {
			seen[k] = true
			projects = append(projects, pr)
		}
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("gitlab: config %s: bearer auth needs a token", cfg.Name)
	}
	if h := cfg.TokenHeader; h != "" && h != HeaderPrivateToken && h != HeaderAuthorization {
		return nil, fmt.Errorf("gitlab: config %s: auth header %q is not private_token or authorization", cfg.Name, ci.CleanText(h))
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	client, err := newAPI(cfg, cfg.URL)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg: cfg, gl: client, projects: projects,
		log: log.With().Str("ci", cfg.Name).Logger(), now: cfg.Clock,
	}
	p.parser = NewParser(ParserConfig{
		Conn: cfg.Name, Projects: projects, Secret: cfg.WebhookSecret, Clock: cfg.Clock, Attempt: p.webhookAttempt,
		FailedTrigger: p.webhookFailedTrigger,
	})
	ttl := cfg.OverviewTTL
	if ttl <= 0 {
		ttl = DefaultOverviewTTL
	}
	p.ov = ci.OverviewCache{TTL: ttl, FailureTTL: OverviewFailureTTL, Now: func() time.Time { return p.now() }}
	return p, nil
}

// Name is the connection's name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "gitlab".
func (p *Provider) Kind() string { return "gitlab" }

// ParseWebhook reads a delivery GitLab posted (see Parser). A Pipeline Hook costs one
// request, for the pipeline's jobs, retried ones too, which tell which run it is.
func (p *Provider) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	return p.parser.ParseWebhook(header, body)
}

// webhookAttempt is the parser's AttemptFunc: the jobs API, WebhookAttemptTimeout at most.
func (p *Provider) webhookAttempt(project string, pipelineID int64, jobIDs []int64) (int, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WebhookAttemptTimeout)
	defer cancel()
	jobs, err := p.allJobs(ctx, project, pipelineID)
	if err != nil {
		p.log.Warn().Err(err).Str("project", project).Int64("pipeline_id", pipelineID).
			Msg("gitlab: the run of a delivered pipeline could not be read; left to the next poll")
		return 0, time.Time{}, err
	}
	rs := readRuns(jobs)
	if rs.tries {
		p.parser.numbers.noteTries(pipelineID, rs.attempt)
	}
	n, known := rs.runWith(jobIDs)
	if !known {
		return 0, time.Time{}, fmt.Errorf("gitlab: %s: pipeline %d of %s: the hook names a job the API does not list yet", p.cfg.Name, pipelineID, project)
	}
	return n, rs.started[n], nil
}

// webhookFailedTrigger is the parser's FailedTrigger: the bridges API, WebhookAttemptTimeout
// at most (a failed pipeline whose failure is a trigger job's costs its hook a second
// request).
func (p *Provider) webhookFailedTrigger(project string, pipelineID int64) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), WebhookAttemptTimeout)
	defer cancel()
	return p.failedTrigger(ctx, project, pipelineID)
}

// builderName is what users call a project (see builderName).
func (p *Provider) builderName(project string) string {
	return builderName(project, len(p.projects) > 1)
}

// projectOf finds the followed project a builder name stands for.
func (p *Provider) projectOf(builder string) (string, bool) {
	for _, pr := range p.projects {
		if strings.EqualFold(p.builderName(pr), builder) || strings.EqualFold(pr, builder) {
			return pr, true
		}
	}
	return "", false
}

func (p *Provider) noBuilder(builder string) error {
	return ci.Userf(fmt.Errorf("gitlab: %s: builder %q: %w", p.cfg.Name, builder, ci.ErrNotFound),
		fmt.Sprintf("no project %s on %s", builder, p.cfg.Name))
}
