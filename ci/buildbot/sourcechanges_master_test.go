package buildbot_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

const (
	revAlice = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	revBob   = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// Two changes by two authors within a second become one failing build of the change
// builder: /list changes sees both, newest first, and the finished build's event carries
// both authors (the newest first, who is also the build's author), its revision and its
// builder's tags.
func TestChangesAndBlameList(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	p := newProvider(t, m, buildbot.Auth{})
	rec := newRecorder()
	watch(t, p, time.Now().Add(-time.Minute), rec)

	m.SetOutcome(buildbottest.BuilderOnChange, buildbottest.Failure)
	m.PostChange(buildbottest.Change{Author: "Alice <alice@example.org>", Revision: revAlice, Comments: "Add the cache\n\nLong text.", Revlink: "https://git.example.invalid/app/commit/" + revAlice})
	m.PostChange(buildbottest.Change{Author: "Bob <bob@example.org>", Revision: revBob, Branch: "main", Comments: "Break the cache"})
	m.WaitBuild(buildbottest.BuilderOnChange, 1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := p.RecentChanges(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("RecentChanges = %+v, want 2", cs)
	}
	if c := cs[0]; c.Author != "Bob <bob@example.org>" || c.Revision != revBob || c.Branch != "main" || c.CommentsLine() != "Break the cache" || c.Conn != "main" {
		t.Errorf("newest change = %+v", c)
	}
	if c := cs[1]; c.Author != "Alice <alice@example.org>" || c.CommentsLine() != "Add the cache" || !strings.HasSuffix(c.URL, revAlice) || c.At.IsZero() {
		t.Errorf("older change = %+v", c)
	}
	if one, err := p.RecentChanges(ctx, 1); err != nil || len(one) != 1 || one[0].Revision != revBob {
		t.Errorf("RecentChanges(1) = %+v, %v", one, err)
	}

	evs := rec.waitFor(t, "the change build's finish", func(evs []ci.Event) bool {
		for _, e := range buildEvents(evs, buildbottest.BuilderOnChange) {
			if e.Kind == ci.KindFinished {
				return true
			}
		}
		return false
	})
	var fin ci.Build
	for _, e := range buildEvents(evs, buildbottest.BuilderOnChange) {
		if e.Kind == ci.KindFinished {
			fin = *e.Build
		}
	}
	if want := []string{"Bob <bob@example.org>", "Alice <alice@example.org>"}; !reflect.DeepEqual(fin.Blamelist, want) {
		t.Errorf("blame list = %q, want %q", fin.Blamelist, want)
	}
	if fin.Author != "Bob <bob@example.org>" || fin.Result != ci.ResultFailure {
		t.Errorf("author %q result %s, want Bob's failure", fin.Author, fin.Result)
	}
	if got := ci.BuildRevisions(fin); !reflect.DeepEqual(got, []string{revBob}) {
		t.Errorf("revisions = %q, want Bob's", got)
	}
	if !reflect.DeepEqual(fin.Tags, []string{"core"}) {
		t.Errorf("tags = %q, want core", fin.Tags)
	}

	// A forced build has no changes: no blame list, no author.
	m.SetOutcome(buildbottest.BuilderOnChange, buildbottest.Success)
	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderPass, 1)
	bs, err := p.BuildsChangedSince(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Builder == buildbottest.BuilderPass && (len(b.Blamelist) != 0 || b.Author != "" || !reflect.DeepEqual(b.Tags, []string{"quick"})) {
			t.Errorf("forced build: blame list %q, author %q, tags %q", b.Blamelist, b.Author, b.Tags)
		}
		if b.Builder == buildbottest.BuilderOnChange && len(b.Blamelist) != 2 {
			t.Errorf("caught-up change build: blame list %q, want two authors", b.Blamelist)
		}
	}
}

// A connection with tags shows only the builders with one of them: lists, overviews, the
// builds it reports, force and last builds by name.
func TestTagsLimitTheConnection(t *testing.T) {
	t.Parallel()
	m := buildbottest.Start(t, buildbottest.Options{})
	p, err := buildbot.New(buildbot.Config{Name: "main", URL: m.URL(), Tags: []string{"core", "docs"}}, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	m.Force(buildbottest.BuilderPass, map[string]any{"branch": "main"})
	m.Force(buildbottest.BuilderToggle, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderPass, 1)
	m.WaitBuild(buildbottest.BuilderToggle, 1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bs, err := p.Builders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	if want := []string{"docs-site", "toggle"}; !reflect.DeepEqual(names, want) {
		t.Errorf("builders = %q, want %q", names, want)
	}
	changed, err := p.BuildsChangedSince(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(changed) != 1 || changed[0].Builder != buildbottest.BuilderToggle {
		t.Errorf("builds changed = %+v, want only toggle's", changed)
	}
	ov, err := p.Overview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ov.Last[buildbottest.BuilderPass]; ok || len(ov.Builders) != 2 {
		t.Errorf("overview: %d builders, last %v", len(ov.Builders), ov.Last)
	}
	if _, ok := ov.Last[buildbottest.BuilderToggle]; !ok {
		t.Errorf("overview lacks toggle's last build: %v", ov.Last)
	}
	if _, err := p.LastBuilds(ctx, buildbottest.BuilderPass, 1); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("LastBuilds(pass) = %v, want ErrNotFound", err)
	}
	if _, err := p.Force(ctx, ci.ForceRequest{Builder: buildbottest.BuilderPass}); err == nil {
		t.Error("forcing a builder the tags leave out succeeded")
	}
	fs, err := p.ForceSchedulers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		for _, b := range f.Builders {
			if b != "toggle" && b != "docs-site" {
				t.Errorf("force scheduler %s offers %s", f.Name, b)
			}
		}
	}
	for _, b := range changed {
		if _, err := p.Build(ctx, b.ID); err != nil {
			t.Errorf("Build(%s): %v", b.ID, err)
		}
	}
}
