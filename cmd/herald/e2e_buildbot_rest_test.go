package main

// The rest of Buildbot's own bot, end to end against a real master: /list changes, builder
// tags (ci[].tags hides builders; /notify … tag=NAME filters a subscription), the blame list
// of a failure (notifications.blamelist) and builds named by their revisions
// (notifications.revisions).

import (
	"fmt"
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

const (
	e2eRevAlice = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	e2eRevBob   = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// restConfig connects herald to m limited to the builders tagged core or quick (toggle,
// pass, fail: docs-site and slow are left out), with blame lists and revisions on, and the
// team subscribed to every start and result, ungrouped.
func restConfig(m *buildbottest.Master) string {
	return fmt.Sprintf(`ci:
  - name: main
    type: buildbot
    url: %s
    poll_interval: 2s
    tags: [core, quick]
notifications:
  group_window: 0s
  blamelist: true
  revisions: true
chats:
  - id: %d
    events: [started, finished]
`, m.URL(), team.ID)
}

func TestE2EBuildbotChangesTagsBlameRevisions(t *testing.T) {
	m := buildbottest.Start(t, buildbottest.Options{})
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: restConfig(m)})
	h.start()
	bobChat := telegramtest.PrivateChat(bob)

	// Bob hears only of the quick builders, in his private chat.
	tg.SendText(bobChat, bob, "/notify on finished tag=quick")
	waitText(t, tg, bob.ID, "Notifications for you: finished.", "Only tags: <code>quick</code>")
	tg.SendText(bobChat, bob, "/notify list")
	waitMessage(t, tg, bob.ID, "/notify list with the tags", func(msg telegramtest.Message) bool {
		return strings.Contains(msg.Text, "Only tags: <code>quick</code>") && strings.Contains(msg.Text, "Quiet hours")
	})

	// ci[].tags: docs-site and slow are not herald's to list.
	tg.SendText(team, alice, "/list builders all")
	list := waitText(t, tg, team.ID, "<b>Builders</b>")
	for _, b := range []string{"toggle", "pass", "fail"} {
		if !strings.Contains(list.Text, "• "+b) {
			t.Errorf("/list builders all lacks %s:\n%s", b, list.Text)
		}
	}
	for _, b := range []string{"docs-site", "slow"} {
		if strings.Contains(list.Text, b) {
			t.Errorf("/list builders all shows %s, which the connection's tags leave out:\n%s", b, list.Text)
		}
	}

	// Two commits, one failing build of toggle (core): the team hears it named by Bob's
	// revision, with both authors blamed; Bob's chat (tag=quick) does not.
	m.SetOutcome(buildbottest.BuilderOnChange, buildbottest.Failure)
	m.PostChange(buildbottest.Change{Author: "Alice <alice@example.org>", Revision: e2eRevAlice, Comments: "Add the cache",
		Revlink: "https://git.example.invalid/app/commit/" + e2eRevAlice})
	m.PostChange(buildbottest.Change{Author: "Bob <bob@example.org>", Revision: e2eRevBob, Comments: "Break the cache\n\nSorry."})
	m.WaitBuild(buildbottest.BuilderOnChange, 1)
	fail := waitText(t, tg, team.ID, "<b>toggle</b>", "revision 2222222</a> failed")
	for _, part := range []string{"Blame list: Bob &lt;bob@example.org&gt;, Alice &lt;alice@example.org&gt;",
		"By: author Bob &lt;bob@example.org&gt;", "Failed step: <code>compile</code>"} {
		if !strings.Contains(fail.Text, part) {
			t.Errorf("the failure lacks %q:\n%s", part, fail.Text)
		}
	}
	if strings.Contains(fail.Text, "#1") || strings.Contains(fail.Text, "Revision:") {
		t.Errorf("a build named by its revision still shows its number or a revision line:\n%s", fail.Text)
	}

	// A hidden builder's build is told to nobody; a quick one to the team and to Bob.
	m.Force(buildbottest.BuilderDocs, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderDocs, 1)
	m.Force(buildbottest.BuilderFail, map[string]any{"branch": "main"})
	m.WaitBuild(buildbottest.BuilderFail, 1)
	waitText(t, tg, team.ID, "<b>fail</b>", "#1</a> failed")
	bobs := waitText(t, tg, bob.ID, "<b>fail</b>", "#1</a> failed")
	if strings.Contains(bobs.Text, "Blame list") {
		t.Errorf("a forced build has no changes, yet a blame list:\n%s", bobs.Text)
	}
	// A barrier: whatever the earlier builds caused is queued before this reply.
	tg.SendText(team, alice, "/getid")
	waitText(t, tg, team.ID, "Your ID")
	waitOutboxEmpty(t, h)
	if n := countText(tg, team.ID, "docs-site"); n != 0 {
		t.Errorf("%d messages about docs-site, which the connection's tags leave out:\n%s", n, dumpMessages(tg.Messages(team.ID)))
	}
	if n := countText(tg, bob.ID, "toggle"); n != 0 {
		t.Errorf("Bob's chat (tag=quick) got %d messages about toggle (core):\n%s", n, dumpMessages(tg.Messages(bob.ID)))
	}

	// /list changes: the newest first, with revision, branch, author and first line.
	tg.SendText(team, alice, "/list changes 5")
	changes := waitText(t, tg, team.ID, "<b>Changes</b>")
	want := "<b>Changes</b>\n" +
		"• <code>2222222</code> on <code>main</code> by Bob &lt;bob@example.org&gt;: Break the cache\n" +
		`• <a href="https://git.example.invalid/app/commit/` + e2eRevAlice + `"><code>1111111</code></a> on <code>main</code> by Alice &lt;alice@example.org&gt;: Add the cache`
	if changes.Text != want {
		t.Errorf("/list changes 5 =\n%s\nwant\n%s", changes.Text, want)
	}
}
