package buildbot

import (
	"context"
	"slices"

	"github.com/herald-ci/herald/ci"
)

// Buildbot's builders carry tags (BuilderConfig's tags), and Buildbot's own Telegram bot
// takes a tags option: "this bot will only communicate about builders containing those
// tags". Config.Tags is that option. A builder without any of them is left out of everything
// the provider answers (builder lists, overviews, running and last builds, the builds the
// stream and the catch-up report, the builders a force scheduler offers), so herald neither
// lists it nor notifies about it, and a chat cannot reach it by name.

// visible reports whether a builder with these tags belongs to the connection.
func (p *Provider) visible(tags []string) bool {
	if len(p.cfg.Tags) == 0 {
		return true
	}
	for _, t := range tags {
		if slices.Contains(p.cfg.Tags, ci.CleanText(t)) {
			return true
		}
	}
	return false
}

// tagsOf is the tags of the builder with this id, as the last builder list said, cleaned.
func (p *Provider) tagsOf(id int) []string {
	p.mu.Lock()
	tags := p.builderTags[id]
	p.mu.Unlock()
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = ci.CleanText(t)
	}
	return out
}

// visibleNames keeps of names the builders the connection shows. Without Config.Tags it
// asks nothing; with them it reads the builder list once.
func (p *Provider) visibleNames(ctx context.Context, names []string) ([]string, error) {
	if len(p.cfg.Tags) == 0 {
		return names, nil
	}
	bs, err := p.builders(ctx)
	if err != nil {
		return nil, err
	}
	shown := map[string]bool{}
	for _, b := range bs {
		if p.visible(b.Tags) {
			shown[b.Name] = true
		}
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if shown[n] {
			out = append(out, n)
		}
	}
	return out, nil
}
