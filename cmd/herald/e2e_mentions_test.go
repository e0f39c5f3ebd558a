package main

// End-to-end test of mentions (issue 12, item 7): the real herald binary following a fake
// GitLab, whose Pipeline Hooks name the user who pushed (user.username, herald's build
// owner); the fake Bot API simulating the users, their /iam and the admin's button presses.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
)

var (
	mentionAnn  = telegramtest.User{ID: 9001, FirstName: "Ann", Username: "ann_dev"}
	mentionZed  = telegramtest.User{ID: 9002, FirstName: "Zed"}
	mentionCarl = int64(9003) // linked by the config's people:, never writes
)

// mentionOf is how a message mentions a user.
func mentionOf(id int64, name string) string {
	return fmt.Sprintf(`<a href="tg://user?id=%d">%s</a>`, id, name)
}

// pushBy plays a pipeline of acme/app on main pushed by username (fail: its unit job fails)
// and waits until herald has said all it causes; it returns the pipeline's number.
func (e *glEnv) pushBy(username string, fail bool) int {
	e.t.Helper()
	runs := 0
	if fail {
		runs = 1
	}
	id := e.gl.CreatePipeline(glProject, "main", gitlabtest.PipelineOptions{
		User: gitlabtest.User{ID: int64(len(username)) + 100, Username: username, Name: strings.ToUpper(username[:1]) + username[1:]},
		Jobs: glJobs(runs),
	})
	if err := e.gl.Start(id); err != nil {
		e.t.Fatal(err)
	}
	if err := e.gl.Finish(id); err != nil {
		e.t.Fatal(err)
	}
	status := "success"
	if fail {
		status = "failed"
	}
	e.checkAnswers(e.barrier(id, status, 1))
	return int(e.pipeline(id).IID)
}

// problemOf waits for the problem message of pipeline n in chat and returns what it says
// of n as it stands now: the whole message, or n's line when the message tells of several
// builds (a burst grouped into one message, notifications.group_window).
func problemOf(t *testing.T, tg *telegramtest.Server, chat int64, n int) string {
	t.Helper()
	num := fmt.Sprintf(">#%d</a>", n)
	m := waitMessage(t, tg, chat, "the problem of #"+num, func(m telegramtest.Message) bool {
		return containsAll(m.Text, glNum(n)...) && (strings.Contains(m.Text, "Problem") || strings.Contains(m.Text, "broke"))
	})
	var builds []string
	for _, line := range strings.Split(m.Text, "\n") {
		if strings.Contains(line, ">#") && strings.Contains(line, "</a>") {
			builds = append(builds, line)
		}
	}
	if len(builds) > 1 {
		for _, line := range builds {
			if strings.Contains(line, num) {
				return line
			}
		}
	}
	return m.Text
}

func TestE2EMentions(t *testing.T) {
	t.Parallel()
	chats := fmt.Sprintf(`chats:
  - id: %d
    events: [problem, recovery]
  - id: %d
    events: [problem, recovery]
authz:
  rules:
    - commands: [link]
      allow: [%d]
people:
  - {telegram: %d, name: Carl, gitlab: carl}
`, team.ID, mentionAnn.ID, bob.ID, mentionCarl)
	e := startGitLab(t, glOptions{chats: chats})
	tg := e.tg
	annChat, zedChat, bobChat := telegramtest.PrivateChat(mentionAnn), telegramtest.PrivateChat(mentionZed), telegramtest.PrivateChat(bob)

	// Ann asks to be gitlab:ann; nothing is linked until Bob (allowed link) approves.
	tg.SendText(annChat, mentionAnn, "/iam gitlab:ann")
	waitText(t, tg, mentionAnn.ID, "I asked the admins to confirm that <code>gitlab:ann</code> is you")
	annReq := waitText(t, tg, bob.ID, "Link request #", "Who: Ann (@ann_dev, ID <code>9001</code>)", "Says they are: <code>gitlab:ann</code>")
	if n := dbCount(t, e.h, `SELECT count(*) FROM people_links WHERE kind = 'gitlab' AND identity = 'ann' AND status = 'approved'`); n != 0 {
		t.Fatalf("gitlab:ann linked before anyone approved (%d rows)", n)
	}
	qid := press(t, tg, bobChat, bob, annReq, "Approve")
	if a := waitAnswer(t, tg, qid); a.Text != "Approved." {
		t.Errorf("answer to Bob's press = %q; want Approved.", a.Text)
	}
	waitText(t, tg, mentionAnn.ID, "An admin confirmed that <code>gitlab:ann</code> is you")
	waitMessage(t, tg, bob.ID, "the request marked linked", func(m telegramtest.Message) bool {
		return m.MessageID == annReq.MessageID && strings.Contains(m.Text, "✅ Linked by @bob") && len(m.Keyboard) == 0
	})
	// A second press of the spent button changes nothing.
	if a := waitAnswer(t, tg, press(t, tg, bobChat, bob, annReq, "Deny")); !strings.HasPrefix(a.Text, "Already approved") {
		t.Errorf("a second press answered %q; want Already approved", a.Text)
	}

	// Zed asks to be gitlab:zed; Bob denies: nothing is linked.
	tg.SendText(zedChat, mentionZed, "/iam gitlab:zed")
	zedReq := waitText(t, tg, bob.ID, "Link request #", "Says they are: <code>gitlab:zed</code>")
	if a := waitAnswer(t, tg, press(t, tg, bobChat, bob, zedReq, "Deny")); a.Text != "Denied." {
		t.Errorf("answer to Bob's deny = %q; want Denied.", a.Text)
	}
	waitText(t, tg, mentionZed.ID, "An admin declined to link <code>gitlab:zed</code> to you.")
	tg.SendText(zedChat, mentionZed, "/iam")
	waitText(t, tg, mentionZed.ID, "No CI identity is linked to you.")

	ann := mentionOf(mentionAnn.ID, "Ann")
	// Ann breaks main: her private chat mentions her; the group, mentions off, does not.
	e.pushBy("ann", false)
	n := e.pushBy("ann", true)
	if got := problemOf(t, tg, mentionAnn.ID, n); !strings.Contains(got, ann) {
		t.Errorf("Ann's private chat: the problem of #%d does not mention her:\n%s", n, got)
	}
	if got := problemOf(t, tg, team.ID, n); strings.Contains(got, "tg://user") {
		t.Errorf("the group (mentions off) was told with a mention:\n%s", got)
	}

	// The group turns mentions on: the next breakage by Ann mentions her there.
	tg.SendText(team, bob, "/notify mentions on")
	waitText(t, tg, team.ID, "Mentions on: problem messages in this chat mention who broke the build")
	tg.SendText(team, bob, "/notify list")
	waitText(t, tg, team.ID, "Mentions of who broke a build: on")
	e.pushBy("ann", false)
	n = e.pushBy("ann", true)
	if got := problemOf(t, tg, team.ID, n); !strings.Contains(got, ann) {
		t.Errorf("the group (mentions on): the problem of #%d does not mention Ann:\n%s", n, got)
	}

	// Zed's link was denied: his breakage mentions nobody.
	e.pushBy("ann", false)
	n = e.pushBy("zed", true)
	for _, chat := range []int64{team.ID, mentionAnn.ID} {
		if got := problemOf(t, tg, chat, n); strings.Contains(got, "tg://user") {
			t.Errorf("chat %d: the problem of #%d by gitlab:zed (denied) mentions someone:\n%s", chat, n, got)
		}
	}

	// Carl is linked by the config.
	e.pushBy("zed", false)
	n = e.pushBy("carl", true)
	if got := problemOf(t, tg, team.ID, n); !strings.Contains(got, mentionOf(mentionCarl, "Carl")) {
		t.Errorf("the group: the problem of #%d by gitlab:carl (people:) does not mention Carl:\n%s", n, got)
	}
	// The recoveries mention nobody.
	for _, m := range tg.Messages(team.ID) {
		if strings.Contains(m.Text, "Recovery") && strings.Contains(m.Text, "tg://user") {
			t.Errorf("a recovery mentions someone:\n%s", m.Text)
		}
	}
}
