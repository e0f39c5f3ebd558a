package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v89/github"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

// DefaultURL is GitHub.com's REST API; GitHub Enterprise Server's is https://HOST/api/v3.
const DefaultURL = "https://api.github.com"

// DefaultPollInterval is how often herald lists the runs that changed, when the config
// does not say.
const DefaultPollInterval = 60 * time.Second

// Config is one GitHub connection from herald's config.
type Config struct {
	Name          string   // connection name
	URL           string   // the REST API root; empty means DefaultURL
	Repos         []string // owner/name of every repository followed
	Auth          Auth
	WebhookSecret string        // empty: webhooks are refused (401) and herald polls only
	PollInterval  time.Duration // zero means DefaultPollInterval
	HTTPClient    *http.Client  // nil means a client with a 30 s timeout
	OverviewTTL   time.Duration // how long an Overview is reused; zero means DefaultOverviewTTL
	Clock         func() time.Time
}

// Auth is how herald authenticates to GitHub.
type Auth struct {
	Kind           string // "bearer" or "github_app"
	Token          string // bearer: a personal access token (classic or fine-grained)
	AppID          int64  // github_app
	InstallationID int64  // github_app
	PrivateKey     []byte // github_app: the App's PEM private key; read from PrivateKeyFile when empty
	PrivateKeyFile string // github_app: where the key is, read by New
}

// repoRef is one followed repository.
type repoRef struct {
	Owner, Name string
}

func (r repoRef) full() string { return r.Owner + "/" + r.Name }

// Provider follows the workflows of one or more repositories on one GitHub (github.com or
// an Enterprise Server). It is safe for concurrent use.
type Provider struct {
	cfg    Config
	gh     *gh.Client   // authenticated, on cfg.URL, with conditional requests (see client.go)
	cond   *conditional // the conditional-request cache under gh
	repos  []repoRef
	parser *Parser
	log    zerolog.Logger
	now    func() time.Time

	mu          sync.Mutex
	runRepo     map[int64]repoRef     // run id → its repository, for Build, Stop and Rebuild
	runnersDeny map[string]time.Time  // repository → until when its runners are not asked (denied)
	canon       map[string]repoRef    // lower-cased owner/name → as GitHub spells it (canonical)
	wfNames     map[int64]string      // workflow id → name, from the last lists of workflows
	tracked     map[string]trackedRun // build id → attempt followed by id (tracked.go)
	trackSeq    uint64

	ov ci.OverviewCache // the overview shared by every caller (overview.go)
}

// The capabilities the provider has; each file that adds one asserts it there.
var (
	_ ci.Provider      = (*Provider)(nil)
	_ ci.WebhookParser = (*Provider)(nil)
)

// New checks cfg and makes a provider; it reads a GitHub App's private key file but does not
// contact GitHub. Its errors never quote a credential.
func New(cfg Config, log zerolog.Logger) (*Provider, error) {
	if cfg.Name == "" {
		return nil, errors.New("github: config: name is empty")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if msg := checkAPIURL(cfg.URL); msg != "" {
		return nil, fmt.Errorf("github: config %s: %s", cfg.Name, msg)
	}
	if len(cfg.Repos) == 0 {
		return nil, fmt.Errorf("github: config %s: no repository to follow", cfg.Name)
	}
	var repos []repoRef
	seen := map[string]bool{}
	for _, r := range cfg.Repos {
		ref, err := parseRepo(r)
		if err != nil {
			return nil, fmt.Errorf("github: config %s: %w", cfg.Name, err)
		}
		if k := strings.ToLower(r); !seen[k] {
			seen[k] = true
			repos = append(repos, ref)
		}
	}
	if msg := sameName(cfg.Repos); msg != "" {
		return nil, fmt.Errorf("github: config %s: %s", cfg.Name, msg)
	}
	switch cfg.Auth.Kind {
	case "bearer":
		if cfg.Auth.Token == "" {
			return nil, fmt.Errorf("github: config %s: bearer auth needs a token", cfg.Name)
		}
	case "github_app":
		if cfg.Auth.AppID <= 0 || cfg.Auth.InstallationID <= 0 {
			return nil, fmt.Errorf("github: config %s: github_app auth needs app_id and installation_id", cfg.Name)
		}
		if len(cfg.Auth.PrivateKey) == 0 {
			if cfg.Auth.PrivateKeyFile == "" {
				return nil, fmt.Errorf("github: config %s: github_app auth needs private_key_file", cfg.Name)
			}
			key, err := readPrivateKey(cfg.Auth.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("github: config %s: auth.%w", cfg.Name, err)
			}
			cfg.Auth.PrivateKey = key
		} else if err := checkPrivateKey(cfg.Auth.PrivateKey); err != nil {
			return nil, fmt.Errorf("github: config %s: the App's private key %w", cfg.Name, err)
		}
	default:
		return nil, fmt.Errorf("github: config %s: auth kind %q is not bearer or github_app", cfg.Name, ci.CleanText(cfg.Auth.Kind))
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	client, cond, err := newAPI(cfg, cfg.URL)
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:         cfg,
		gh:          client,
		cond:        cond,
		repos:       repos,
		log:         log.With().Str("ci", cfg.Name).Logger(),
		now:         cfg.Clock,
		runRepo:     map[int64]repoRef{},
		runnersDeny: map[string]time.Time{},
		canon:       map[string]repoRef{},
		wfNames:     map[int64]string{},
		tracked:     map[string]trackedRun{},
	}
	if lacksAPIPath(cfg.URL) {
		p.log.Warn().Str("url", cfg.URL).Msg("github: url has no path; GitHub Enterprise Server's REST API is https://HOST/api/v3")
	}
	p.parser = NewParser(ParserConfig{
		Conn: cfg.Name, Repos: cfg.Repos, Secret: cfg.WebhookSecret, Clock: cfg.Clock,
		WorkflowName: p.deliveredWorkflowName,
	})
	ttl := cfg.OverviewTTL
	if ttl <= 0 {
		ttl = DefaultOverviewTTL
	}
	p.ov = ci.OverviewCache{TTL: ttl, FailureTTL: OverviewFailureTTL, Now: func() time.Time { return p.now() }}
	return p, nil
}

// deliveredWorkflowName names the workflow of a delivered run that has no name, in
// WebhookStepTimeout at most.
func (p *Provider) deliveredWorkflowName(repo string, id int64) string {
	r, ok := p.repoOf(repo)
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), WebhookStepTimeout)
	defer cancel()
	return p.workflowName(ctx, r, id)
}

// Name is the connection's name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "github".
func (p *Provider) Kind() string { return "github" }

// WebhookStepTimeout bounds the one request ParseWebhook makes for a failed run's failed
// step: GitHub gives a delivery 10 seconds before it calls it failed.
const WebhookStepTimeout = 3 * time.Second

// ParseWebhook reads a delivery GitHub posted (see Parser). The payload of a completed run
// names no job or step, so for a failure the provider asks for the attempt's jobs (one
// request, WebhookStepTimeout at most) to say which step failed; when GitHub does not
// answer in time the event goes on without it rather than being held up or lost.
func (p *Provider) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	d, err := p.parser.ParseWebhook(header, body)
	if err != nil {
		return d, err
	}
	var e struct {
		Repo struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if len(d.Events) == 0 || json.Unmarshal(body, &e) != nil {
		return d, nil
	}
	r, ok := p.repoOf(e.Repo.FullName)
	if !ok {
		return d, nil
	}
	for i, ev := range d.Events {
		if ev.Build == nil {
			continue
		}
		if ev.Build.Complete {
			p.untrack(ev.Build.ID)
		} else if runID, attempt, err := parseBuildID(ev.Build.ID); err == nil {
			p.track(r, runID, attempt)
		}
		if !needsFailedStep(*ev.Build) || ev.Build.FailedStep != "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), WebhookStepTimeout)
		b := *ev.Build
		err := p.addStepsByID(ctx, r, b.ID, &b)
		cancel()
		if err != nil {
			p.log.Warn().Err(err).Str("build", b.ID).Msg("github: the failed step of a delivered run could not be read; reported without it")
			continue
		}
		d.Events[i].Build = &b
	}
	return d, nil
}

// builderName is what users call a workflow: its name, after its repository's when the
// connection follows several (the parser names builds the same way).
func (p *Provider) builderName(r repoRef, workflow string) string {
	if len(p.repos) > 1 {
		return r.Name + "/" + workflow
	}
	return workflow
}

// parseBuildID splits herald's build id "<run id>/<attempt>" (see BuildID).
func parseBuildID(id string) (runID int64, attempt int, err error) {
	run, att, ok := strings.Cut(id, "/")
	if !ok {
		att = "1"
	}
	runID, err1 := strconv.ParseInt(run, 10, 64)
	attempt, err2 := strconv.Atoi(att)
	if err1 != nil || err2 != nil || runID <= 0 || attempt <= 0 {
		return 0, 0, fmt.Errorf("github: build id %q is not <run id>/<attempt>: %w", id, ci.ErrNotFound)
	}
	return runID, attempt, nil
}

var errNoRepo = errors.New("github: no such repository")

// repoOf finds the followed repository a build or builder belongs to by its name.
func (p *Provider) repoOf(name string) (repoRef, bool) {
	for _, r := range p.repos {
		if strings.EqualFold(r.full(), name) || strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return repoRef{}, false
}
