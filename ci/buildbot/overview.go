package buildbot

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// An overview answers /status and /last for every builder at once. Asked builder by builder
// (the core contract), a master with N builders costs 2N+3 requests a command — 203 for 100
// builders — and a group sending /status a hundred times multiplies that. An overview costs
// four requests however many builders there are (builders, workers, running builds, the
// newest completed builds), plus a step list per running build (at most maxRunningSteps), and
// is shared by every chat for OverviewTTL.

// DefaultOverviewTTL is how long an overview is reused: long enough that a burst of commands
// from many chats costs the master one set of requests, short enough that the answer is
// still the present (it says its age when it is older than a second).
const DefaultOverviewTTL = 10 * time.Second

// OverviewFailureTTL is how long an overview that failed because the master did not answer
// (a timeout, a refused or dropped connection) is remembered: every chat's /status in that
// time gets the same error at once instead of waiting its whole CI timeout against a master
// that is down, each holding one of the intake's few workers while it waits.
const OverviewFailureTTL = 5 * time.Second

// maxRunningSteps bounds the step requests an overview makes for running builds' current
// steps; builds beyond it are shown without their step.
const maxRunningSteps = 10

// idsPerQuery bounds how many builder ids one query filters on, keeping its URL short.
const idsPerQuery = 50

var _ ci.Overviewer = (*Provider)(nil)

// Overview implements ci.Overviewer. One fetch runs at a time; callers that waited for it get
// its answer, a failure too when the master did not answer (see OverviewFailureTTL). The
// answer's At is when the master was asked.
func (p *Provider) Overview(ctx context.Context) (ci.Overview, error) {
	return p.ov.Get(ctx, p.fetchOverview)
}

func (p *Provider) fetchOverview(ctx context.Context) (ci.Overview, error) {
	at := p.now()
	bs, err := p.builders(ctx)
	if err != nil {
		return ci.Overview{}, err
	}
	ws, err := p.workers(ctx)
	if err != nil {
		return ci.Overview{}, err
	}
	names := make(map[int]string, len(bs))
	for _, b := range bs {
		names[b.ID] = b.Name
	}
	running, err := p.runningWithSteps(ctx, names, at)
	if err != nil {
		return ci.Overview{}, err
	}
	last, err := p.lastCompleted(ctx, bs, names, at)
	if err != nil {
		return ci.Overview{}, err
	}
	return ci.Overview{Builders: p.toBuilders(bs, ws), Running: running, Last: last, At: at}, nil
}

func (p *Provider) runningWithSteps(ctx context.Context, names map[int]string, now time.Time) ([]ci.Build, error) {
	const path = "builds?complete=false&order=buildid&property=*"
	bs, err := getList[apiBuild](ctx, p.c, path, "builds")
	if err != nil {
		return nil, err
	}
	out := make([]ci.Build, 0, len(bs))
	for _, b := range bs {
		cb := toBuild(p.cfg.Name, p.cfg.URL, builderLabel(names, b.BuilderID), b, now)
		if cb.Tags = p.tagsOf(b.BuilderID); !p.visible(cb.Tags) {
			continue // left out by the connection's tags (tags.go)
		}
		if len(out) < maxRunningSteps {
			if err := p.addSteps(ctx, b, &cb); err != nil {
				return nil, err
			}
		}
		out = append(out, cb)
	}
	return out, nil
}

func builderLabel(names map[int]string, id int) string {
	if n, ok := names[id]; ok {
		return n
	}
	return fmt.Sprint(id)
}

// lastCompleted finds the newest completed build of every builder in as few queries as the
// history allows: first the newest completed builds of the whole master (enough to cover every
// builder that built lately), then, for the builders not covered, the newest completed builds
// of just those, a few dozen builder ids a query. A query that answers fewer builds than it
// asked for has shown every build of its builders, so a builder still without one has none.
// Each further query covers at least one more builder; in practice one or two are made.
func (p *Provider) lastCompleted(ctx context.Context, bs []apiBuilder, names map[int]string, now time.Time) (map[string]ci.Build, error) {
	last := map[string]ci.Build{}
	remaining := map[int]bool{}
	for _, b := range bs {
		if p.visible(b.Tags) { // the connection's tags (tags.go)
			remaining[b.ID] = true
		}
	}
	limit := min(max(4*len(bs), 50), 500)
	take := func(builds []apiBuild) {
		for _, b := range builds { // newest first
			if !remaining[b.BuilderID] {
				continue
			}
			delete(remaining, b.BuilderID)
			cb := toBuild(p.cfg.Name, p.cfg.URL, names[b.BuilderID], b, now)
			cb.Tags = p.tagsOf(b.BuilderID)
			last[cb.Builder] = cb
		}
	}
	builds, err := p.newestCompleted(ctx, nil, limit)
	if err != nil {
		return nil, err
	}
	take(builds)
	if len(builds) < limit {
		return last, nil
	}
	for len(remaining) > 0 {
		ids := make([]int, 0, len(remaining))
		for id := range remaining {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		ids = ids[:min(len(ids), idsPerQuery)]
		builds, err := p.newestCompleted(ctx, ids, limit)
		if err != nil {
			return nil, err
		}
		left := len(remaining)
		take(builds)
		switch {
		case len(builds) < limit:
			for _, id := range ids {
				delete(remaining, id) // no completed build at all
			}
		case len(remaining) == left:
			// A master that ignores the builder filter would never cover them: ask each.
			for _, id := range ids {
				bs, err := p.newestOf(ctx, id)
				if err != nil {
					return nil, err
				}
				take(bs)
				delete(remaining, id)
			}
		}
	}
	return last, nil
}

// newestOf asks for the newest completed build of one builder.
func (p *Provider) newestOf(ctx context.Context, id int) ([]apiBuild, error) {
	return getList[apiBuild](ctx, p.c, fmt.Sprintf("builders/%d/builds?complete=true&order=-number&limit=1", id), "builds")
}

// newestCompleted asks for the newest completed builds, of the builders ids only when given.
// Properties are not asked for: /status and /last do not show them, and each costs the master
// a query per build.
func (p *Provider) newestCompleted(ctx context.Context, ids []int, limit int) ([]apiBuild, error) {
	var q strings.Builder
	fmt.Fprintf(&q, "builds?complete=true&order=-buildid&limit=%d", limit)
	for _, id := range ids {
		fmt.Fprintf(&q, "&builderid=%d", id)
	}
	return getList[apiBuild](ctx, p.c, q.String(), "builds")
}
