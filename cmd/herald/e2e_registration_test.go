package main

// End-to-end tests of registration (issue 11, section 4): the real herald binary, the fake
// Bot API simulating the users and their button presses, a Postgres database per test.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/bot/telegramtest"
)

var (
	carol  = telegramtest.User{ID: 333, FirstName: "Carol", Username: "carol"}
	dave   = telegramtest.User{ID: 444, FirstName: "Dave"}
	erin   = telegramtest.User{ID: 555, FirstName: "Erin", Username: "erin"}
	admins = telegramtest.Chat{ID: -1001000000099, Type: "supergroup", Title: "Admins"}
)

const notRegisteredLine = "This chat is not registered yet: send /start to ask for access."

// waitVersion sends /version in chat and waits for its answer: proof the chat may use herald.
func waitVersion(t *testing.T, tg *telegramtest.Server, chat telegramtest.Chat, user telegramtest.User) {
	t.Helper()
	before := countVersion(tg, chat.ID)
	tg.SendText(chat, user, "/version")
	waitFor(t, fmt.Sprintf("the /version answer in %d", chat.ID), func() bool { return countVersion(tg, chat.ID) > before })
}

func countVersion(tg *telegramtest.Server, chat int64) int {
	n := 0
	for _, m := range tg.Messages(chat) {
		if strings.HasPrefix(m.Text, "herald ") {
			n++
		}
	}
	return n
}

// registrationOf reads how a chat is registered ("" when it is not).
func registrationOf(t *testing.T, h *heraldProc, chat int64) string {
	t.Helper()
	var how string
	err := dbConn(t, h).QueryRow(context.Background(),
		`SELECT coalesce((SELECT how FROM registered_chats WHERE chat_id = $1), '')`, chat).Scan(&how)
	if err != nil {
		t.Fatal(err)
	}
	return how
}

// subscriptionOf reads a chat's subscribed events, "" when it has none.
func subscriptionOf(t *testing.T, h *heraldProc, chat int64) string {
	t.Helper()
	var events string
	err := dbConn(t, h).QueryRow(context.Background(),
		`SELECT coalesce((SELECT array_to_string(events, ',') FROM subscriptions WHERE chat_id = $1 AND thread_id = 0), '')`, chat).Scan(&events)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// auditOf is the audit log as "command outcome: args: detail" lines, oldest first.
func auditOf(t *testing.T, h *heraldProc, command string) []string {
	t.Helper()
	var out []string
	for _, a := range auditRows(t, h) {
		if a.Command == command {
			out = append(out, fmt.Sprintf("%s %s: %s: %s", a.Command, a.Outcome, a.Args, a.Detail))
		}
	}
	return out
}

func TestE2ERegistrationApproval(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf(`authz:
  registration: approval
  admin_chat: %d
`, admins.ID)})
	h.start()

	// A chat nobody let in may use only /start, /getid and /help.
	me := telegramtest.PrivateChat(carol)
	tg.SendText(me, carol, "/version")
	waitText(t, tg, carol.ID, notRegisteredLine)
	tg.SendText(me, carol, "/getid")
	waitText(t, tg, carol.ID, "Your ID is <code>333</code>.")

	// /start asks; the admin chat gets the request with Approve and Deny.
	tg.SendText(me, carol, "/start")
	waitText(t, tg, carol.ID, "sent your request for access to the admins")
	req := waitText(t, tg, admins.ID, "Request for access #1", "Who: Carol (@carol, ID <code>333</code>)",
		"Chat: their private chat with me", "When: ", "Approval subscribes it to: problem, recovery")
	if len(req.Keyboard) != 1 || len(req.Keyboard[0]) != 2 {
		t.Fatalf("request keyboard %+v; want Approve and Deny", req.Keyboard)
	}
	tg.SendText(me, carol, "/start")
	waitText(t, tg, carol.ID, "Your request for access is waiting for the admins")
	if registrationOf(t, h, carol.ID) != "" {
		t.Fatal("registered before anyone approved")
	}

	// Bob, in the admin chat, approves: Carol is told, registered, subscribed.
	qid := press(t, tg, admins, bob, req, "Approve")
	if a := waitAnswer(t, tg, qid); a.Text != "Approved." {
		t.Errorf("answer to the press = %q; want Approved.", a.Text)
	}
	waitMessage(t, tg, admins.ID, "the request marked approved", func(m telegramtest.Message) bool {
		return m.MessageID == req.MessageID && strings.Contains(m.Text, "✅ Approved by @bob") && len(m.Keyboard) == 0
	})
	waitText(t, tg, carol.ID, "An admin approved your request", "problem, recovery")
	if how := registrationOf(t, h, carol.ID); how != "approval" {
		t.Errorf("carol's chat registered as %q; want approval", how)
	}
	if ev := subscriptionOf(t, h, carol.ID); ev != "problem,recovery" {
		t.Errorf("carol's subscription = %q; want problem,recovery (the defaults of /notify on)", ev)
	}
	waitVersion(t, tg, me, carol)
	if n := countText(tg, carol.ID, notRegisteredLine); n != 1 {
		t.Errorf("carol was turned away %d times; want once (before approval)", n)
	}

	// The spent button says who decided, and changes nothing.
	qid = press(t, tg, admins, alice, req, "Deny")
	if a := waitAnswer(t, tg, qid); a.Text != "Already approved by @bob." {
		t.Errorf("second press answered %q; want Already approved by @bob.", a.Text)
	}

	// A group asks and is denied.
	tg.SendText(team, dave, "/start")
	waitText(t, tg, team.ID, "sent your request")
	req2 := waitText(t, tg, admins.ID, "Request for access #2", "Who: Dave (ID <code>444</code>)", "“Team” (supergroup, ID <code>-1001000000001</code>)")
	if n := countText(tg, admins.ID, "Request for access"); n != 2 {
		t.Errorf("%d requests in the admin chat; want 2 (asking twice sends one)", n)
	}
	qid = press(t, tg, admins, bob, req2, "Deny")
	if a := waitAnswer(t, tg, qid); a.Text != "Denied." {
		t.Errorf("deny answered %q", a.Text)
	}
	waitText(t, tg, team.ID, "An admin declined your request")
	tg.SendText(team, dave, "/notify on failure")
	waitText(t, tg, team.ID, "sent your request") // asking again after a denial is a new request
	waitText(t, tg, admins.ID, "Request for access #3", "Approval subscribes it to: failure")
	if how := registrationOf(t, h, team.ID); how != "" {
		t.Errorf("denied group registered as %q", how)
	}

	want := []string{
		"approve allowed: approve request #1: approved: registered chat 333",
		"approve allowed: deny request #2: denied: chat -1001000000001 (Team) stays unregistered",
	}
	waitFor(t, "both decisions in the audit log", func() bool { return len(auditOf(t, h, "approve")) >= 2 })
	if got := auditOf(t, h, "approve"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var inviteLinkRE = regexp.MustCompile(`https://t\.me/herald_test_bot\?start=([A-Za-z0-9_-]{22,64})`)

// makeInvite sends /invite args as alice and returns the code of the link she gets.
func makeInvite(t *testing.T, tg *telegramtest.Server, args string) string {
	t.Helper()
	before := countText(tg, alice.ID, "🎟")
	tg.SendText(telegramtest.PrivateChat(alice), alice, strings.TrimSpace("/invite "+args))
	var code string
	waitFor(t, "the invite link", func() bool {
		msgs := tg.Messages(alice.ID)
		n := 0
		for _, m := range msgs {
			if strings.Contains(m.Text, "🎟") {
				n++
				if n > before {
					if sub := inviteLinkRE.FindStringSubmatch(m.Text); sub != nil {
						code = sub[1]
						return true
					}
				}
			}
		}
		return false
	})
	return code
}

func TestE2ERegistrationInvite(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf(`authz:
  registration: invite
  rules:
    - commands: [invite]
      allow: [%d]
`, alice.ID)})
	h.start()

	// Without an invite, /start does not ask; other commands get one line.
	tg.SendText(telegramtest.PrivateChat(carol), carol, "/start")
	waitText(t, tg, carol.ID, "by invitation only")
	tg.SendText(telegramtest.PrivateChat(carol), carol, "/version")
	waitText(t, tg, carol.ID, "This chat is not registered yet: open an invite link from an admin to get access.")

	// /invite is dangerous: Bob may not.
	tg.SendText(telegramtest.PrivateChat(bob), bob, "/invite")
	waitText(t, tg, bob.ID, "This chat is not registered yet")

	code := makeInvite(t, tg, "2")
	waitText(t, tg, alice.ID, "Invite #1", "lets 2 chats in", "?startgroup="+code)

	// Opening the link sends /start CODE: the chat is in, subscribed, without a request.
	tg.SendText(telegramtest.PrivateChat(carol), carol, "/start "+code)
	waitText(t, tg, carol.ID, "The invite of @alice let this chat in")
	if how := registrationOf(t, h, carol.ID); how != "invite" {
		t.Errorf("carol registered as %q; want invite", how)
	}
	if ev := subscriptionOf(t, h, carol.ID); ev != "problem,recovery" {
		t.Errorf("carol's subscription = %q", ev)
	}
	waitVersion(t, tg, telegramtest.PrivateChat(carol), carol)

	// A group through the startgroup link, then the code is spent.
	tg.SendText(team, dave, "/start@herald_test_bot "+code)
	waitText(t, tg, team.ID, "let this chat in")
	tg.SendText(telegramtest.PrivateChat(erin), erin, "/start "+code)
	waitText(t, tg, erin.ID, "This invite link has been used up. Ask an admin for a new one.")
	if how := registrationOf(t, h, erin.ID); how != "" {
		t.Errorf("a spent invite registered erin (%q)", how)
	}

	// An expired code.
	short := makeInvite(t, tg, "1s")
	deadline := time.Now().Add(1100 * time.Millisecond) // the code's life, from before it was made
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	tg.SendText(telegramtest.PrivateChat(erin), erin, "/start "+short)
	waitText(t, tg, erin.ID, "This invite link expired on")
	tg.SendText(telegramtest.PrivateChat(erin), erin, "/start not-a-code")
	waitText(t, tg, erin.ID, "This invite link is not valid.")
	if how := registrationOf(t, h, erin.ID); how != "" {
		t.Errorf("erin registered as %q", how)
	}

	waitFor(t, "the refusals in the audit log", func() bool { return len(auditOf(t, h, "start")) >= 5 })
	got := auditOf(t, h, "start")
	for i, w := range []string{"start allowed: invite #1", "start allowed: invite #1", "start denied: invite #1: invite used up",
		"start denied: invite #2: invite expired", "start denied: invite (unknown code)"} {
		if i >= len(got) || !strings.HasPrefix(got[i], w) {
			t.Errorf("audit:\n%s\nwant line %d to start with %q", strings.Join(got, "\n"), i, w)
		}
	}
	if inv := auditOf(t, h, "invite"); len(inv) != 3 || !strings.HasPrefix(inv[0], "invite denied: ") ||
		!strings.HasPrefix(inv[1], "invite allowed: 2: invite #1: 2 chats") {
		t.Errorf("invite audit: %q", inv)
	}
	// Never a code in the audit log, the logs or the database: the invites hold hashes, a
	// handled /start keeps no parameter, and the replies that carried a link (which the user
	// must get) left the outbox once sent; none failed.
	waitFor(t, "every update handled and every reply sent", func() bool {
		return dbCount(t, h, `SELECT count(*) FROM updates WHERE handled_at IS NULL`)+dbCount(t, h, `SELECT count(*) FROM outbox`) == 0
	})
	for _, c := range []string{code, short} {
		for table, q := range map[string]string{
			"updates":       `SELECT count(*) FROM updates WHERE position($1 in payload::text) > 0`,
			"outbox":        `SELECT count(*) FROM outbox WHERE position($1 in text) > 0`,
			"outbox_failed": `SELECT count(*) FROM outbox_failed WHERE position($1 in text) > 0`,
		} {
			if n := dbCount(t, h, q, c); n != 0 {
				t.Errorf("%d rows of %s hold an invite code", n, table)
			}
		}
		for _, a := range auditRows(t, h) {
			if strings.Contains(a.Args+a.Detail, c) {
				t.Errorf("audit row holds a code: %+v", a)
			}
		}
		if strings.Contains(h.logs.String(), c) {
			t.Errorf("herald's log holds an invite code")
		}
		if n := dbCount(t, h, `SELECT count(*) FROM invites WHERE position(convert_to($1, 'UTF8') in code_sha256) > 0`, c); n != 0 {
			t.Errorf("the invites table holds a code in clear")
		}
	}
}

// TestE2ERegistrationOpenByDefault: a config without registration behaves as before, and
// the chats it serves stay in when registration closes later.
func TestE2ERegistrationOpenByDefault(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg})
	h.start()
	waitVersion(t, tg, team, dave)
	waitFor(t, "the chat recorded as open", func() bool { return registrationOf(t, h, team.ID) == "open" })
	if n := countText(tg, team.ID, "not registered"); n != 0 {
		t.Errorf("an open herald turned a chat away")
	}
}

// TestReadmeRegistrationExample: the README's example loads as written and means what the
// README says of it.
func TestReadmeRegistrationExample(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	start, end := strings.Index(s, "## Registration\n"), strings.Index(s, "## Commands\n")
	if start < 0 || end < start {
		t.Fatal("the README has no section Registration before Commands")
	}
	_, rest, ok := strings.Cut(s[start:end], "```yaml\n")
	block, _, _ := strings.Cut(rest, "```")
	if !ok || !strings.HasPrefix(block, "authz:\n") {
		t.Fatalf("no authz example in the section Registration: %q", block)
	}
	cfgText := "telegram:\n  token: 1:x\ndatabase:\n  url: postgres://h@localhost/h\n" + strings.Replace(block, "authz:\n", "authz:\n  groups:\n    - name: release\n      members: [789012]\n", 1)
	path := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path, testEnv(nil))
	if err != nil {
		t.Fatalf("the README's example does not load:\n%v", err)
	}
	m, err := cfg.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if m.Registration() != "approval" || m.AdminChat() != -1001234567890 || !m.UnregisteredMay("getid") || m.UnregisteredMay("status") {
		t.Errorf("registration %q, admin chat %d", m.Registration(), m.AdminChat())
	}
	if !m.Decide(789012, "invite", "").Allowed || m.Decide(123456, "invite", "").Allowed {
		t.Error("@release should invite, and only they")
	}
	if !m.MayApprove(123456, 123456) || !m.MayApprove(5, -1001234567890) || m.MayApprove(5, 5) {
		t.Error("123456 approves anywhere, anyone in the admin chat, nobody else")
	}
}

// TestRegistrationConfigProblems: a wrong registration setting stops herald at its line.
func TestRegistrationConfigProblems(t *testing.T) {
	_, err := parseConfig("h.yaml", []byte("telegram:\n  token: 1:x\ndatabase:\n  url: postgres://h@localhost/h\nauthz:\n  registration: closed\n  unregistered: [status, force]\n"), testEnv(nil))
	want := `h.yaml:6: authz: registration must be open, approval or invite, not "closed"
h.yaml:7: authz: unregistered chats cannot be given the dangerous command "force"`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	_, err = parseConfig("h.yaml", []byte("telegram:\n  token: 1:x\ndatabase:\n  url: postgres://h@localhost/h\nauthz:\n  registration: approval\n"), testEnv(nil))
	if err == nil || !strings.Contains(err.Error(), "h.yaml:6: authz: registration: approval needs admin_chat") {
		t.Errorf("approval without anyone to ask: %v", err)
	}
}
