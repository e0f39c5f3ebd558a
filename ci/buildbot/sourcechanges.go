package buildbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/herald-ci/herald/ci"
)

// Buildbot's changes are the commits its change sources (pollers, change hooks) reported.
// Two questions read them: /list changes (the newest of the master, ci.SourceChangeLister)
// and a finished build's blame list (the changes since its builder's last successful build,
// which is what Buildbot's builds/N/changes answers), whose first change also names the
// build's author, so mentions can match a Buildbot author.

var _ ci.SourceChangeLister = (*Provider)(nil)

// maxChanges bounds what /list changes may ask for.
const maxChanges = 50

type apiChange struct {
	ID         int     `json:"changeid"`
	Author     string  `json:"author"`
	Comments   string  `json:"comments"`
	Branch     *string `json:"branch"`
	Revision   *string `json:"revision"`
	Revlink    *string `json:"revlink"`
	Repository string  `json:"repository"`
	When       float64 `json:"when_timestamp"`
}

func parseChanges(data []byte) ([]apiChange, error) { return decodeList[apiChange](data, "changes") }

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (p *Provider) toChange(c apiChange, now time.Time) ci.Change {
	when := c.When
	return ci.CleanChange(ci.Change{
		Conn:       p.cfg.Name,
		ID:         strconv.Itoa(c.ID),
		Author:     c.Author,
		Revision:   str(c.Revision),
		Branch:     str(c.Branch),
		Repository: c.Repository,
		Comments:   c.Comments,
		URL:        str(c.Revlink),
		At:         unixTime(&when),
	}, now)
}

// RecentChanges lists the master's newest n changes (at most 50), newest first.
func (p *Provider) RecentChanges(ctx context.Context, n int) ([]ci.Change, error) {
	n = min(max(n, 1), maxChanges)
	cs, err := getList[apiChange](ctx, p.c, fmt.Sprintf("changes?order=-changeid&limit=%d", n), "changes")
	if err != nil {
		return nil, err
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].ID > cs[j].ID }) // whatever the master's order
	now := p.now()
	out := make([]ci.Change, 0, min(len(cs), n))
	for _, c := range cs[:min(len(cs), n)] {
		out = append(out, p.toChange(c, now))
	}
	return out, nil
}

// addChanges fills a finished build's blame list from its changes, and its author from the
// newest of them when the build names none. A build without changes (forced) keeps both
// empty; a master that does not know the endpoint (ErrNotFound) is the same.
func (p *Provider) addChanges(ctx context.Context, cb *ci.Build) error {
	id, err := strconv.Atoi(cb.ID)
	if err != nil || id <= 0 {
		return nil
	}
	cs, err := getList[apiChange](ctx, p.c, fmt.Sprintf("builds/%d/changes", id), "changes")
	if errors.Is(err, ci.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cb.Blamelist = blamelist(cs)
	if cb.Author == "" && len(cs) > 0 {
		cb.Author = ci.CleanText(cs[0].Author)
	}
	if len(ci.BuildRevisions(*cb)) == 0 {
		cb.Revisions = changeRevisions(cs)
	}
	return nil
}

// blamelist is the changes' authors, in the master's order (the build's own change first),
// each once.
func blamelist(cs []apiChange) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cs {
		a := ci.CleanText(c.Author)
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// changeRevisions is the changes' revisions, each once: what a build is of when its
// properties name none (no source step ran).
func changeRevisions(cs []apiChange) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range cs {
		r := ci.CleanText(str(c.Revision))
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, r)
	}
	return out
}

// propertyRevisions reads a build's revisions from its properties: got_revision (what the
// source steps checked out) is one revision, or with several codebases an object of codebase
// → revision; without it, revision (the sourcestamp's, set for a single codebase). Several
// come back in codebase order.
func propertyRevisions(b apiBuild) []string {
	for _, name := range []string{"got_revision", "revision"} {
		v := b.Properties[name]
		if len(v) == 0 {
			continue
		}
		var byCodebase map[string]*string
		if err := json.Unmarshal(v[0], &byCodebase); err == nil && byCodebase != nil {
			keys := make([]string, 0, len(byCodebase))
			for k := range byCodebase {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var out []string
			for _, k := range keys {
				if r := ci.CleanText(str(byCodebase[k])); r != "" {
					out = append(out, r)
				}
			}
			if len(out) > 0 {
				return out
			}
			continue
		}
		if r := ci.CleanText(jsonText(v[0])); r != "" {
			return []string{r}
		}
	}
	return nil
}
