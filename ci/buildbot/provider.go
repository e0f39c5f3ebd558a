// Package buildbot is herald's provider for Buildbot (3.x): the REST API v2 for questions and
// control, the websocket message API for live events (stream.go), and the REST API again for
// the builds that changed since a time (changes.go), with which ci.Follower catches up on
// what happened while the websocket was down.
package buildbot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
)

// Config is one Buildbot connection from herald's config.
type Config struct {
	Name         string       // connection name, e.g. "main"
	URL          string       // the master's web root, e.g. https://ci.example.org/
	Auth         Auth         // how to log in; zero means anonymous
	HTTPClient   *http.Client // nil means a client with a 30 s timeout
	PollInterval time.Duration
	// PollInterval is how long the Follower waits before reconnecting at most (its backoff
	// cap, see FollowOptions) and how often Stream pings the websocket; default 30 s.
	OverviewTTL time.Duration // how long an Overview is reused; default DefaultOverviewTTL
	// Tags, when set, limit the connection to builders with any of them, as Buildbot's own
	// bot's tags option does: the others are neither listed nor notified (tags.go).
	Tags []string
}

// Provider talks to one Buildbot master. It is safe for concurrent use.
type Provider struct {
	cfg Config
	c   *client
	log zerolog.Logger
	now func() time.Time

	mu           sync.Mutex
	builderNames map[int]string
	builderTags  map[int][]string // by builder id, as the last builder list said (tags.go)

	ov ci.OverviewCache // the overview shared by every caller (overview.go)
}

var (
	_ ci.Provider     = (*Provider)(nil)
	_ ci.Forcer       = (*Provider)(nil)
	_ ci.Stopper      = (*Provider)(nil)
	_ ci.Streamer     = (*Provider)(nil)
	_ ci.ChangeLister = (*Provider)(nil)
	_ ci.FollowTuner  = (*Provider)(nil)
)

// New checks cfg and makes a provider; it does not contact the master.
func New(cfg Config, log zerolog.Logger) (*Provider, error) {
	if cfg.Name == "" {
		return nil, errors.New("buildbot: config: name is empty")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("buildbot: config %s: url %q is not an http(s) URL", cfg.Name, cfg.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("buildbot: config %s: put credentials in auth, not in the url", cfg.Name)
	}
	base := strings.TrimRight(u.String(), "/") + "/"
	switch cfg.Auth.Kind {
	case "", "none":
		cfg.Auth.Kind = "none"
	case "basic":
		if cfg.Auth.Username == "" {
			return nil, fmt.Errorf("buildbot: config %s: basic auth needs a username", cfg.Name)
		}
	case "bearer":
		if cfg.Auth.Token == "" {
			return nil, fmt.Errorf("buildbot: config %s: bearer auth needs a token", cfg.Name)
		}
	default:
		return nil, fmt.Errorf("buildbot: config %s: auth kind %q is not none, basic or bearer", cfg.Name, cfg.Auth.Kind)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 30 * time.Second
	}
	if cfg.OverviewTTL <= 0 {
		cfg.OverviewTTL = DefaultOverviewTTL
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Auth.Kind == "basic" {
		// Buildbot keeps the login in a session cookie: give this provider its own jar so
		// a shared client is not changed.
		jar, _ := cookiejar.New(nil)
		cp := *hc
		cp.Jar = jar
		hc = &cp
	}
	cfg.URL = base
	p := &Provider{
		cfg:          cfg,
		c:            &client{name: cfg.Name, base: base, auth: cfg.Auth, http: hc},
		log:          log.With().Str("ci", cfg.Name).Logger(),
		now:          time.Now,
		builderNames: map[int]string{},
		builderTags:  map[int][]string{},
	}
	p.ov = ci.OverviewCache{TTL: cfg.OverviewTTL, FailureTTL: OverviewFailureTTL, Now: func() time.Time { return p.now() }}
	return p, nil
}

// Name is the connection's name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is "buildbot".
func (p *Provider) Kind() string { return "buildbot" }

func (p *Provider) builders(ctx context.Context) ([]apiBuilder, error) {
	bs, err := getList[apiBuilder](ctx, p.c, "builders", "builders")
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	for _, b := range bs {
		p.builderNames[b.ID] = b.Name
		p.builderTags[b.ID] = b.Tags
	}
	p.mu.Unlock()
	return bs, nil
}

// names returns the names of the builders with the given ids, asking the master for its
// builder list at most once, and only when one of them is not known yet (a new builder). An id
// the master does not list is named by its number.
func (p *Provider) names(ctx context.Context, ids []int) (map[int]string, error) {
	out := make(map[int]string, len(ids))
	p.mu.Lock()
	missing := false
	for _, id := range ids {
		name, ok := p.builderNames[id]
		out[id] = name
		missing = missing || !ok
	}
	p.mu.Unlock()
	if !missing {
		return out, nil
	}
	bs, err := p.builders(ctx)
	if err != nil {
		return nil, err
	}
	known := make(map[int]string, len(bs))
	for _, b := range bs {
		known[b.ID] = b.Name
	}
	for _, id := range ids {
		name, ok := known[id]
		if !ok {
			name = strconv.Itoa(id)
		}
		out[id] = name
	}
	return out, nil
}

// builderID returns the id of the builder named name.
func (p *Provider) builderID(ctx context.Context, name string) (int, error) {
	bs, err := p.builders(ctx)
	if err != nil {
		return 0, err
	}
	for _, b := range bs {
		if ci.CleanText(b.Name) == name && p.visible(b.Tags) {
			return b.ID, nil
		}
	}
	return 0, ci.Userf(fmt.Errorf("buildbot: builder %q: %w", name, ci.ErrNotFound), fmt.Sprintf("no builder %s on %s", name, p.cfg.Name))
}

// Builders lists the builders with whether a connected worker serves them.
func (p *Provider) Builders(ctx context.Context) ([]ci.Builder, error) {
	bs, err := p.builders(ctx)
	if err != nil {
		return nil, err
	}
	ws, err := p.workers(ctx)
	if err != nil {
		return nil, err
	}
	return p.toBuilders(bs, ws), nil
}

// toBuilders makes the ci builders of a builder and a worker list: a builder is online when a
// connected worker serves it.
func (p *Provider) toBuilders(bs []apiBuilder, ws []apiWorker) []ci.Builder {
	online := map[int]bool{}
	for _, w := range ws {
		if len(w.ConnectedTo) == 0 {
			continue
		}
		for _, c := range w.ConfiguredOn {
			online[c.BuilderID] = true
		}
	}
	out := make([]ci.Builder, 0, len(bs))
	for _, b := range bs {
		if !p.visible(b.Tags) {
			continue
		}
		cb := ci.Builder{Conn: p.cfg.Name, ID: strconv.Itoa(b.ID), Name: b.Name, Tags: b.Tags, Online: online[b.ID]}
		if b.Description != nil {
			cb.Description = *b.Description
		}
		out = append(out, ci.CleanBuilder(cb))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// fill turns Buildbot builds into ci builds, with step details when withSteps.
func (p *Provider) fill(ctx context.Context, bs []apiBuild, withSteps bool) ([]ci.Build, error) {
	ids := make([]int, len(bs))
	for i, b := range bs {
		ids[i] = b.BuilderID
	}
	names, err := p.names(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := p.now()
	out := make([]ci.Build, 0, len(bs))
	for _, b := range bs {
		cb := toBuild(p.cfg.Name, p.cfg.URL, names[b.BuilderID], b, now)
		if cb.Tags = p.tagsOf(b.BuilderID); !p.visible(cb.Tags) {
			continue // a builder the connection's tags leave out (tags.go)
		}
		if withSteps && (!b.Complete || (b.Results != nil && *b.Results != 0)) {
			if err := p.addSteps(ctx, b, &cb); err != nil {
				return nil, err
			}
		}
		out = append(out, cb)
	}
	return out, nil
}

// addSteps fills a build's current and failed step from its steps: one request.
func (p *Provider) addSteps(ctx context.Context, b apiBuild, cb *ci.Build) error {
	steps, err := getList[apiStep](ctx, p.c, fmt.Sprintf("builds/%d/steps", b.ID), "steps")
	if err != nil {
		return err
	}
	current, failed := stepSummary(steps)
	cb.CurrentStep, cb.FailedStep = ci.CleanText(current), ci.CleanText(failed)
	if b.Complete {
		cb.CurrentStep = ""
	}
	return nil
}

func (p *Provider) queryBuilds(ctx context.Context, path string, withSteps bool) ([]ci.Build, error) {
	bs, err := getList[apiBuild](ctx, p.c, path, "builds")
	if err != nil {
		return nil, err
	}
	return p.fill(ctx, bs, withSteps)
}

// RunningBuilds lists the builds in progress with their current step.
func (p *Provider) RunningBuilds(ctx context.Context) ([]ci.Build, error) {
	return p.queryBuilds(ctx, "builds?complete=false&order=buildid&property=*", true)
}

// LastBuilds returns the last n completed builds of builder, newest first.
func (p *Provider) LastBuilds(ctx context.Context, builder string, n int) ([]ci.Build, error) {
	if n <= 0 {
		n = 1
	}
	id, err := p.builderID(ctx, builder)
	if err != nil {
		return nil, err
	}
	return p.queryBuilds(ctx, fmt.Sprintf("builders/%d/builds?complete=true&order=-number&limit=%d&property=*", id, n), true)
}

// Build returns one build by its Buildbot build id.
func (p *Provider) Build(ctx context.Context, id string) (ci.Build, error) {
	n, err := strconv.Atoi(id)
	if err != nil || n <= 0 {
		return ci.Build{}, fmt.Errorf("buildbot: build id %q: %w", id, ci.ErrNotFound)
	}
	bs, err := p.queryBuilds(ctx, fmt.Sprintf("builds/%d?property=*", n), true)
	if err != nil {
		return ci.Build{}, err
	}
	if len(bs) != 1 {
		return ci.Build{}, fmt.Errorf("buildbot: build %d: %w", n, ci.ErrNotFound)
	}
	return bs[0], nil
}

func (p *Provider) workers(ctx context.Context) ([]apiWorker, error) {
	return getList[apiWorker](ctx, p.c, "workers", "workers")
}

// Workers lists the workers, whether they are connected and the builders they serve.
func (p *Provider) Workers(ctx context.Context) ([]ci.Worker, error) {
	ws, err := p.workers(ctx)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, w := range ws {
		for _, c := range w.ConfiguredOn {
			ids = append(ids, c.BuilderID)
		}
	}
	names, err := p.names(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]ci.Worker, 0, len(ws))
	for _, w := range ws {
		cw := p.toWorker(w)
		seen := map[int]bool{} // one entry per master the builder is configured on
		for _, c := range w.ConfiguredOn {
			if seen[c.BuilderID] {
				continue
			}
			seen[c.BuilderID] = true
			cw.Builders = append(cw.Builders, ci.CleanText(names[c.BuilderID]))
		}
		sort.Strings(cw.Builders)
		out = append(out, cw)
	}
	return out, nil
}

func (p *Provider) toWorker(w apiWorker) ci.Worker {
	return ci.CleanWorker(ci.Worker{Conn: p.cfg.Name, ID: strconv.Itoa(w.ID), Name: w.Name, Connected: len(w.ConnectedTo) > 0})
}
