package buildbot

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/herald-ci/herald/ci"
)

// catchUpPage is how many builds one catch-up request asks for: after a long downtime the
// builds are fetched page by page (by build id) rather than in one answer of any size.
const catchUpPage = 200

// ErrNoProgress is wrapped when a page of the catch-up ends no further than the one before: a
// master that ignores buildid__gt answers the same page for ever, and reading on would only
// pile up copies of it.
var ErrNoProgress = errors.New("buildbot: catch-up makes no progress")

// propsGrace is how recently a running build must have started for BuildsChangedSince to
// wait for its properties, as the stream does: an older build without them has none.
const propsGrace = propsTries * propsPause

// BuildsChangedSince lists every build started or finished after since by the master's
// clock (ci.ChangeLister), in build id order, which is the order Buildbot made them.
func (p *Provider) BuildsChangedSince(ctx context.Context, since time.Time) ([]ci.Build, error) {
	after := since.Unix()
	started, err := p.buildsWhere(ctx, fmt.Sprintf("started_at__gt=%d", after))
	if err != nil {
		return nil, err
	}
	finished, err := p.buildsWhere(ctx, fmt.Sprintf("complete_at__gt=%d", after))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []ci.Build
	for _, b := range append(started, finished...) {
		if seen[b.ID] {
			continue
		}
		seen[b.ID] = true
		if !b.Complete && missingProps(b) && p.now().Sub(b.StartedAt) < propsGrace {
			if b, err = p.awaitProps(ctx, b); err != nil {
				return nil, err
			}
		}
		if b.Complete {
			if err := p.addChanges(ctx, &b); err != nil { // as the stream does (sourcechanges.go)
				return nil, err
			}
		}
		out = append(out, b)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].ID)
		b, _ := strconv.Atoi(out[j].ID)
		return a < b
	})
	return out, nil
}

// buildsWhere reads every build that matches filter, catchUpPage builds a request, each
// page after the highest build id of the one before: pages by id neither skip nor repeat a
// build when builds are added or finish while they are read.
func (p *Provider) buildsWhere(ctx context.Context, filter string) ([]ci.Build, error) {
	var out []ci.Build
	last := 0
	for {
		path := fmt.Sprintf("builds?%s&buildid__gt=%d&order=buildid&limit=%d&property=*", filter, last, catchUpPage)
		bs, err := getList[apiBuild](ctx, p.c, path, "builds")
		if err != nil {
			return nil, err
		}
		page, err := p.fill(ctx, bs, true)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(bs) < catchUpPage {
			return out, nil
		}
		highest := 0
		for _, b := range bs {
			highest = max(highest, b.ID)
		}
		if highest <= last {
			return nil, fmt.Errorf("%w: %s: asked for builds after id %d (%s), the master answered a full page up to id %d: does it ignore buildid__gt?",
				ErrNoProgress, p.cfg.Name, last, filter, highest)
		}
		last = highest
	}
}
