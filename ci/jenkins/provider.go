package jenkins

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/glob"
)

// DefaultPollInterval is how often herald reads the jobs when the config does not say.
const DefaultPollInterval = 15 * time.Second

// Config is one Jenkins connection from herald's config.
type Config struct {
	Name          string   // connection name
	URL           string   // Jenkins' root
	Auth          Auth     // how herald signs in
	Jobs          []string // globs over full job names; empty: every job
	PollInterval  time.Duration
	WebhookSecret string        // the Notification plugin endpoint's password; empty refuses every post
	HTTPClient    *http.Client  // nil means a client with a 30 s timeout
	OverviewTTL   time.Duration // how long an Overview is reused; zero means DefaultOverviewTTL
	QueueWait     time.Duration // how long Force reads its queue item for the build; zero means QueueFollowWait
	Clock         func() time.Time
}

// Auth is how herald authenticates to Jenkins.
type Auth struct {
	Kind     string // "basic" or "none"
	Username string
	Password string // an API token of Username
}

// Provider follows the jobs of one Jenkins. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	c      *client
	jobs   []glob.Pattern
	parser *Parser
	log    zerolog.Logger
	now    func() time.Time

	mu       sync.Mutex
	branchOf map[string]string // full name of a multibranch pipeline's branch job → its branch, from the last read
	noWfapi  time.Time         // until when wfapi is not asked: it answered 404 wfapiGone times in a row (stages.go)
	wfapi404 int               // wfapi's 404s in a row
	failedAt map[string]string // build id → the failed stage of a finished build (it no longer changes), at most maxKnownStages
	deepLog  bool              // the folder depth limit was logged
	running  map[string]bool   // ids of the builds running when last read (changes.go), at most maxRunning
	polledAt time.Time         // when BuildsChangedSince last read the jobs; zero before the first
	ov       ci.OverviewCache  // the overview shared by every caller (overview.go)
}

var (
	_ ci.Provider      = (*Provider)(nil)
	_ ci.WebhookParser = (*Provider)(nil)
)

// New checks cfg and makes a provider; it does not contact Jenkins. Its errors never quote
// the password or the webhook secret.
func New(cfg Config, log zerolog.Logger) (*Provider, error) {
	if cfg.Name == "" {
		return nil, errors.New("jenkins: config: name is empty")
	}
	if msg := checkRootURL(cfg.URL); msg != "" {
		return nil, fmt.Errorf("jenkins: config %s: %s", cfg.Name, msg)
	}
	switch cfg.Auth.Kind {
	case "basic":
		if cfg.Auth.Username == "" || cfg.Auth.Password == "" {
			return nil, fmt.Errorf("jenkins: config %s: basic auth needs a username and a password", cfg.Name)
		}
	case "none":
	default:
		return nil, fmt.Errorf("jenkins: config %s: auth kind %q is not basic or none", cfg.Name, ci.CleanText(cfg.Auth.Kind))
	}
	var jobs []glob.Pattern
	for _, j := range cfg.Jobs {
		pat, err := glob.Compile(j)
		if err != nil {
			return nil, fmt.Errorf("jenkins: config %s: jobs: %w", cfg.Name, err)
		}
		jobs = append(jobs, pat)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = QueueFollowWait
	}
	root, _ := url.Parse(cfg.URL) // checked above
	if !strings.HasSuffix(root.Path, "/") {
		root.Path += "/"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	p := &Provider{
		cfg: cfg,
		c: &client{
			conn: cfg.Name, root: root, user: cfg.Auth.Username, password: cfg.Auth.Password,
			hc: &http.Client{
				Transport: hc.Transport, Timeout: hc.Timeout, Jar: jar,
				CheckRedirect: checkRedirect,
			},
		},
		jobs:     jobs,
		log:      log.With().Str("ci", cfg.Name).Logger(),
		now:      cfg.Clock,
		branchOf: map[string]string{},
	}
	p.parser = NewParser(ParserConfig{Conn: cfg.Name, Jobs: cfg.Jobs, Secret: cfg.WebhookSecret, Root: root.String(), Clock: cfg.Clock,
		BranchOf: p.knownBranch})
	ttl := cfg.OverviewTTL
	if ttl <= 0 {
		ttl = DefaultOverviewTTL
	}
	p.ov = ci.OverviewCache{TTL: ttl, FailureTTL: OverviewFailureTTL, Now: func() time.Time { return p.now() }}
	return p, nil
}

// checkRedirect follows a GET's redirects (a proxy sending http to https), as Go's client
// does, but not a POST's: Jenkins answers stop with a redirect to the build's page once it
// has done its work, and the page is not needed.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if via[0].Method != http.MethodGet {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("jenkins: stopped after 10 redirects")
	}
	return nil
}

// Name is the connection's name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "jenkins".
func (p *Provider) Kind() string { return "jenkins" }

// follows says whether a job's full name is among the jobs followed.
func (p *Provider) follows(fullName string) bool {
	if len(p.jobs) == 0 {
		return true
	}
	for _, pat := range p.jobs {
		if pat.Match(fullName) {
			return true
		}
	}
	return false
}

// BuildID is the id of a build by its job and number, "<job full name>#<number>": what a
// user or a command names. Every method taking an id accepts it as well as a build's own ID
// (buildID).
func BuildID(job string, number int) string { return job + "#" + strconv.Itoa(number) }

// buildID is herald's id of a build, unique on the connection for good: its BuildID, then
// "@q" and the queue item it came from when Jenkins knows it (app/web/PR-12#1@q57). Jenkins
// numbers a job's builds from 1 again when the job is deleted and made again (a multibranch
// pipeline does so to a branch that went away and came back), and the queue item tells
// the builds of two such lives apart: both the API (queueId) and the Notification plugin
// (queue_id) give it.
func buildID(job string, number int, queueID int64) string {
	if queueID <= 0 {
		return BuildID(job, number)
	}
	return BuildID(job, number) + "@q" + strconv.FormatInt(queueID, 10)
}

// parseBuildID splits a BuildID or a buildID (its queue item is not needed to read it).
func parseBuildID(id string) (job string, number int, err error) {
	i := strings.LastIndexByte(id, '#')
	if i > 0 {
		num, q, queued := strings.Cut(id[i+1:], "@q")
		number, err = strconv.Atoi(num)
		if queued && err == nil {
			_, err = strconv.ParseInt(q, 10, 64)
		}
	}
	if i <= 0 || err != nil || number <= 0 {
		return "", 0, fmt.Errorf("jenkins: build id %q is not <job>#<number>: %w", ci.CleanText(id), ci.ErrNotFound)
	}
	return id[:i], number, nil
}

// queueRequestID is the RequestID of the build a queue item becomes: Jenkins numbers queue
// items across the whole instance and every build says which item it came from (queueId),
// so the build that /force or the rebuild button queued is known the moment it starts.
func queueRequestID(queueID int64) string {
	if queueID <= 0 {
		return ""
	}
	return "queue/" + strconv.FormatInt(queueID, 10)
}

// jobPath is the path of a job below the root, from its full name: "a/b" is "job/a/job/b/".
// A multibranch pipeline's branch job is named with its slashes encoded ("feature%2Fx"), so
// its segment is escaped again, as Jenkins' own URLs have it.
func jobPath(fullName string) string {
	var b strings.Builder
	for _, seg := range strings.Split(fullName, "/") {
		b.WriteString("job/")
		b.WriteString(url.PathEscape(seg))
		b.WriteString("/")
	}
	return b.String()
}

// buildPath is the path of a build below the root.
func buildPath(job string, number int) string {
	return jobPath(job) + strconv.Itoa(number) + "/"
}

func (p *Provider) noJob(job string) error {
	return ci.Userf(fmt.Errorf("jenkins: %s: job %q: %w", p.cfg.Name, job, ci.ErrNotFound),
		fmt.Sprintf("no job %s on %s", job, p.cfg.Name))
}
