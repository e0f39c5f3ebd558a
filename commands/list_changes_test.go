package commands_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// changeCI is a fake connection that can list changes.
type changeCI struct {
	*fakeCI
	changes []ci.Change
	err     error
	asked   []int
}

func (c *changeCI) RecentChanges(ctx context.Context, n int) ([]ci.Change, error) {
	c.asked = append(c.asked, n)
	if c.err != nil {
		return nil, c.err
	}
	return c.changes[:min(n, len(c.changes))], nil
}

func TestListChanges(t *testing.T) {
	e := newEnv(t)
	bb := &changeCI{fakeCI: &fakeCI{name: "bb"}, changes: []ci.Change{
		{Conn: "bb", ID: "2", Author: "Bob <bob@example.org>", Revision: "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Branch: "main",
			Comments: "Break <the> cache\n\nmore", URL: "https://git.example.org/c/2222222", At: time.Now()},
		{Conn: "bb", ID: "1", Author: "Alice", Comments: "Add the cache"},
	}}
	e.rewire(func(d *commands.Deps) { d.CI = []ci.Provider{bb} })

	got := e.send(groupID, nobody, "/list changes").Replies[0].Text
	want := "<b>Changes</b>\n" +
		`• <a href="https://git.example.org/c/2222222"><code>2222222</code></a> on <code>main</code> by Bob &lt;bob@example.org&gt;: Break &lt;the&gt; cache` + "\n" +
		"• <code>change 1</code> by Alice: Add the cache"
	if got != want {
		t.Errorf("/list changes =\n%s\nwant\n%s", got, want)
	}
	if len(bb.asked) != 1 || bb.asked[0] != 10 {
		t.Errorf("asked for %v changes, want 10", bb.asked)
	}
	e.send(groupID, nobody, "/list changes 500")
	if bb.asked[1] != 50 {
		t.Errorf("/list changes 500 asked for %d, want at most 50", bb.asked[1])
	}
	if got := e.send(groupID, nobody, "/list changes 1").Replies[0].Text; strings.Contains(got, "Alice") || !strings.Contains(got, "Bob") {
		t.Errorf("/list changes 1 = %s", got)
	}
	for _, bad := range []string{"/list changes x", "/list changes 0", "/list changes 2 3"} {
		if got := e.send(groupID, nobody, bad).Replies[0].Text; !strings.Contains(got, "up to 50") {
			t.Errorf("%s = %s", bad, got)
		}
	}

	// Several connections: each named; one that cannot list changes, or fails, says so.
	other := &fakeCI{name: "gh"}
	broken := &changeCI{fakeCI: &fakeCI{name: "down"}, err: ci.Userf(errors.New("dial"), "Buildbot at down did not answer")}
	e.rewire(func(d *commands.Deps) { d.CI = []ci.Provider{bb, other, broken} })
	got = e.send(groupID, nobody, "/list changes 1").Replies[0].Text
	for _, part := range []string{"• bb: <a href", "⚠️ gh: this CI cannot list changes.", "⚠️ down: Buildbot at down did not answer"} {
		if !strings.Contains(got, part) {
			t.Errorf("/list changes with three connections lacks %q:\n%s", part, got)
		}
	}
}
