package github

import (
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
	Clock         func() time.Time
}

// Auth is how herald authenticates to GitHub.
type Auth struct {
	Kind           string // "bearer" or "github_app"
	Token          string // bearer: a personal access token (classic or fine-grained)
	AppID          int64  // github_app
	InstallationID int64  // github_app
	PrivateKey     []byte // github_app: the App's PEM private key (read from private_key_file)
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
	gh     *gh.Client // authenticated, on cfg.URL, with conditional requests (see client.go)
	repos  []repoRef
	parser *Parser
	log    zerolog.Logger
	now    func() time.Time

	mu        sync.Mutex
	workflows map[string][]*gh.Workflow // by repo full name, as last listed
}

// The capabilities the provider has; each file that adds one asserts it here:
// ci.Provider, ci.ChangeLister, ci.FollowTuner (provider core, changes.go), ci.Forcer,
// ci.Stopper, ci.Rebuilder (force.go).
var _ ci.WebhookParser = (*Provider)(nil)

// Name is the connection's name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "github".
func (p *Provider) Kind() string { return "github" }

// ParseWebhook reads a delivery GitHub posted (see Parser).
func (p *Provider) ParseWebhook(header http.Header, body []byte) (ci.Delivery, error) {
	return p.parser.ParseWebhook(header, body)
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
