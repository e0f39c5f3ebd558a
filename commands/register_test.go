package commands_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/ci/hook"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// fakeRegs is an in-memory RegistrationStore with the store's rules: one pending request
// per chat, a request decided once, an invite used at most Uses times until it expires.
type fakeRegs struct {
	mu         sync.Mutex
	registered map[int64]string // chat → how
	subs       map[int64][]string
	requests   []commands.RegistrationRequest
	invites    map[string]*commands.InviteInfo // by hash
	hashes     [][]byte
}

func newFakeRegs() *fakeRegs {
	return &fakeRegs{registered: map[int64]string{}, subs: map[int64][]string{}, invites: map[string]*commands.InviteInfo{}}
}

func (f *fakeRegs) ChatRegistered(ctx context.Context, chatID int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.registered[chatID]
	return ok, nil
}

func (f *fakeRegs) RegisterOpen(ctx context.Context, chatID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.registered[chatID]; !ok {
		f.registered[chatID] = "open"
	}
	return nil
}

func (f *fakeRegs) RequestRegistration(ctx context.Context, r commands.RegistrationRequest) (commands.RegistrationRequest, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.requests {
		if p.ChatID == r.ChatID && p.Status == "pending" {
			return p, false, nil
		}
	}
	r.ID, r.Status = int64(len(f.requests)+1), "pending"
	f.requests = append(f.requests, r)
	return r, true, nil
}

func (f *fakeRegs) DecideRegistration(ctx context.Context, id int64, approve bool, by int64, byName string, at time.Time) (commands.RegistrationRequest, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.requests) {
		return commands.RegistrationRequest{}, false, commands.ErrNoRequest
	}
	r := &f.requests[id-1]
	if r.Status != "pending" {
		return *r, false, nil
	}
	r.Status, r.DecidedBy, r.DecidedByName, r.DecidedAt = "denied", by, byName, at
	if approve {
		r.Status = "approved"
		if _, ok := f.registered[r.ChatID]; !ok {
			f.registered[r.ChatID] = "approval"
		}
		if _, ok := f.subs[r.ChatID]; !ok {
			f.subs[r.ChatID] = r.Events
		}
	}
	return *r, true, nil
}

func (f *fakeRegs) PendingRegistrations(ctx context.Context, limit int) ([]commands.RegistrationRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []commands.RegistrationRequest
	for _, r := range f.requests {
		if r.Status == "pending" && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeRegs) CreateInvite(ctx context.Context, hash []byte, inv commands.InviteInfo) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv.ID, inv.UsesLeft = int64(len(f.invites)+1), inv.Uses
	f.invites[string(hash)] = &inv
	f.hashes = append(f.hashes, bytes.Clone(hash))
	return inv.ID, nil
}

func (f *fakeRegs) RedeemInvite(ctx context.Context, hash []byte, chatID, threadID int64, events []string, at time.Time) (commands.InviteInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inv, ok := f.invites[string(hash)]
	switch {
	case !ok:
		return commands.InviteInfo{}, false, commands.ErrInviteUnknown
	case !at.Before(inv.ExpiresAt):
		return *inv, false, commands.ErrInviteExpired
	case inv.UsesLeft == 0:
		return *inv, false, commands.ErrInviteSpent
	}
	if _, in := f.registered[chatID]; in {
		return *inv, false, nil
	}
	inv.UsesLeft--
	f.registered[chatID] = "invite"
	if _, ok := f.subs[chatID]; !ok {
		f.subs[chatID] = events
	}
	return *inv, true, nil
}

func (f *fakeRegs) how(chat int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registered[chat]
}

const (
	adminChat = int64(-1009)   // the admins' group
	stranger  = int64(4242)    // a user nobody let in
	strangers = int64(-100777) // a group nobody let in
	approver  = int64(31337)   // may approve by rule
	inviter   = int64(777)     // may invite by rule
)

// newRegEnv is env with registration wired the way herald wires it, under spec.
func newRegEnv(t *testing.T, spec authz.Spec) (*env, *fakeRegs) {
	t.Helper()
	e := newEnv(t)
	regs := newFakeRegs()
	build := func(gate commands.Gate, d commands.Deps) *commands.Registry {
		reg := commands.NewRegistry(gate)
		reg.Add(commands.Start(reg), commands.Help(reg), commands.Commands(reg), commands.GetID())
		commands.Register(reg, d)
		commands.AddRegistration(reg, commands.Registration{Deps: d, Registrations: regs,
			BotUsername: func(context.Context) (string, error) { return "herald_test_bot", nil }})
		return reg
	}
	m, err := authz.Compile(spec, build(nil, e.deps).Known())
	if err != nil {
		t.Fatalf("authz: %v", err)
	}
	e.deps.Authz = func() *authz.Matrix { return m }
	e.reg = build(commands.NewGate(e.deps), e.deps)
	return e, regs
}

func approvalSpec() authz.Spec {
	s := testSpec()
	s.Registration = authz.RegistrationSpec{Mode: authz.RegistrationApproval, AdminChat: adminChat}
	return s
}

// repliesTo are the replies of res that go to chat (0: the request's own chat).
func repliesTo(res commands.Response, chat int64) []commands.Reply {
	var out []commands.Reply
	for _, r := range res.Replies {
		if r.ChatID == chat {
			out = append(out, r)
		}
	}
	return out
}

func TestRegistrationOpenChangesNothing(t *testing.T) {
	e, regs := newRegEnv(t, testSpec())
	res := e.send(strangers, stranger, "/status")
	mustContain(t, res, "pass")
	if strings.Contains(text(res), "not registered") {
		t.Fatalf("open registration turned a chat away:\n%s", text(res))
	}
	mustContain(t, e.send(strangers, stranger, "/start"), "Hello, U!")
	if got := regs.how(strangers); got != "open" {
		t.Errorf("chat recorded as %q; want open (it stays in if registration closes later)", got)
	}
	mustContain(t, e.send(inviter, inviter, "/invite"), "You may not use /invite.")
}

func TestApprovalFlow(t *testing.T) {
	e, regs := newRegEnv(t, approvalSpec())

	// Not registered: only what unregistered chats may use.
	res := e.send(strangers, stranger, "/status")
	if got, want := text(res), "notice=\n---\nThis chat is not registered yet: send /start to ask for access."; got != want {
		t.Fatalf("/status from an unregistered chat:\n%s\nwant:\n%s", got, want)
	}
	mustContain(t, e.send(strangers, stranger, "/getid"), "Your ID is <code>4242</code>")
	mustContain(t, e.send(strangers, stranger, "/help"), "/status")

	// /start asks: the requester is told, the admin chat gets the request with buttons.
	r := req(strangers, stranger, "/start")
	r.ChatTitle, r.UserName, r.FirstName, r.ThreadID = "Night <shift>", "ann", "Ann", 5
	res, err := e.reg.Handle(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if own := repliesTo(res, 0); len(own) != 1 || !strings.Contains(own[0].Text, "sent your request for access to the admins") {
		t.Fatalf("requester's replies: %+v", own)
	}
	toAdmins := repliesTo(res, adminChat)
	if len(toAdmins) != 1 {
		t.Fatalf("replies to the admin chat: %+v", res.Replies)
	}
	for _, want := range []string{"Request for access #1", "Ann (@ann, ID <code>4242</code>)",
		"“Night &lt;shift&gt;” (supergroup, ID <code>-100777</code>, topic <code>5</code>)", "When: 2026-03-01 12:00 UTC",
		"subscribes it to: problem, recovery"} {
		if !strings.Contains(toAdmins[0].Text, want) {
			t.Errorf("request %q does not say %q", toAdmins[0].Text, want)
		}
	}
	admins := commands.Response{Replies: toAdmins}

	// Asking again sends nothing new.
	res = e.send(strangers, stranger, "/start")
	mustContain(t, res, "waiting for the admins")
	if len(repliesTo(res, adminChat)) != 0 {
		t.Errorf("a second /start sent the admins another request")
	}

	// Someone who is neither in the admin chat nor allowed approve cannot decide.
	regs.registered[groupID] = "upgrade"
	res = e.press(groupID, stranger, admins, "✅ Approve")
	if regs.how(strangers) != "" || res.Notice != "You may not use /approve." {
		t.Fatalf("a stranger's press: %s (registered %q)", dump(res), regs.how(strangers))
	}

	// Anyone in the admin chat may: the chat is registered, the requester told in its topic.
	e.advance(time.Hour)
	res = e.press(adminChat, nobody, admins, "✅ Approve")
	if res.Notice != "Approved." {
		t.Fatalf("approve: %s", dump(res))
	}
	if regs.how(strangers) != "approval" || !slices.Equal(regs.subs[strangers], []string{"problem", "recovery"}) {
		t.Errorf("after approval: registered %q, subscription %v", regs.how(strangers), regs.subs[strangers])
	}
	shown := repliesTo(res, 0)
	if len(shown) != 1 || !shown[0].Edit || len(shown[0].Keyboard) != 0 || !strings.Contains(shown[0].Text, "✅ Approved by U, 2026-03-01 13:00 UTC.") {
		t.Errorf("the request message after approval: %+v", shown)
	}
	told := repliesTo(res, strangers)
	if len(told) != 1 || told[0].ThreadID != 5 || !strings.Contains(told[0].Text, "approved your request") {
		t.Errorf("the requester was told: %+v", told)
	}
	mustContain(t, e.send(strangers, stranger, "/status"), "pass")

	// A second press, by anyone, says who decided.
	res = e.press(adminChat, admin, admins, "🚫 Deny")
	if res.Notice != "Already approved by U." || regs.how(strangers) != "approval" {
		t.Errorf("second press: %s", dump(res))
	}

	var audited []string
	for _, a := range e.audit() {
		if a.Command == "approve" {
			audited = append(audited, a.Outcome+": "+a.Args+": "+a.Detail)
		}
	}
	want := []string{
		"allowed: approve request #1: approved: registered chat -100777 (Night <shift>)",
		"denied: approve:yes:1: you may not use /approve",
	}
	if !slices.Equal(audited, want) {
		t.Errorf("audit (newest first):\n%s\nwant:\n%s", strings.Join(audited, "\n"), strings.Join(want, "\n"))
	}
}

func TestDenyAndApproversPrivateChats(t *testing.T) {
	spec := testSpec()
	spec.Rules = append(spec.Rules, authz.Rule{Commands: []string{"approve"}, Who: []string{fmt.Sprint(approver), fmt.Sprint(admin)}})
	spec.Registration = authz.RegistrationSpec{Mode: authz.RegistrationApproval}
	e, regs := newRegEnv(t, spec)

	// /notify on asks too, and approval would give what it named.
	res := e.send(stranger, stranger, "/notify on failure builder=docs-*")
	mustContain(t, res, "sent your request")
	var to []int64
	for _, r := range res.Replies {
		if r.ChatID != 0 {
			to = append(to, r.ChatID)
			if !strings.Contains(r.Text, "Chat: their private chat with me") || !strings.Contains(r.Text, "failure builder=docs-*") {
				t.Errorf("request text %q", r.Text)
			}
		}
	}
	if !slices.Equal(to, []int64{approver, admin}) {
		t.Fatalf("the request went to %v; want the approvers' private chats %v", to, []int64{approver, admin})
	}
	// An approver's own private chat is never shut out.
	mustContain(t, e.send(approver, approver, "/status"), "pass")

	res = e.press(approver, approver, commands.Response{Replies: repliesTo(res, approver)}, "🚫 Deny")
	if res.Notice != "Denied." || regs.how(stranger) != "" {
		t.Fatalf("deny: %s", dump(res))
	}
	if told := repliesTo(res, stranger); len(told) != 1 || !strings.Contains(told[0].Text, "declined") {
		t.Errorf("the requester was told: %+v", told)
	}
	mustContain(t, e.send(stranger, stranger, "/status"), "not registered yet")

	// /approve lists what waits.
	mustContain(t, e.send(approver, approver, "/approve"), "No chat is waiting")
	e.send(strangers, stranger, "/start")
	res = e.send(approver, approver, "/approve")
	mustContain(t, res, "Request for access #2", "✅ Approve")
	// /approve is dangerous: someone no rule names may not list requests.
	mustContain(t, e.send(nobody, nobody, "/approve"), "not registered yet")
}

func TestRegistrationRefusesNonPersons(t *testing.T) {
	e, _ := newRegEnv(t, approvalSpec())
	r := req(strangers, 1087968824, "/start")
	r.Actor = commands.ActorAnonymousAdmin
	res, err := e.reg.Handle(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, res, "anonymous admin")
	if len(repliesTo(res, adminChat)) != 0 {
		t.Error("a request from nobody in particular reached the admins")
	}
}

var linkRE = regexp.MustCompile(`https://t\.me/herald_test_bot\?start=([A-Za-z0-9_-]+)`)

func inviteCode(t *testing.T, res commands.Response) string {
	t.Helper()
	m := linkRE.FindStringSubmatch(text(res))
	if m == nil {
		t.Fatalf("no invite link in:\n%s", text(res))
	}
	return m[1]
}

func TestInviteFlow(t *testing.T) {
	spec := testSpec()
	spec.Rules = append(spec.Rules, authz.Rule{Commands: []string{"invite"}, Who: []string{fmt.Sprint(inviter)}})
	spec.Registration = authz.RegistrationSpec{Mode: authz.RegistrationInvite}
	e, regs := newRegEnv(t, spec)

	mustContain(t, e.send(stranger, stranger, "/start"), "by invitation only")
	mustContain(t, e.send(stranger, stranger, "/status"), "This chat is not registered yet: open an invite link from an admin to get access.")

	// /invite is dangerous: refused to whoever no rule names, and audited.
	mustContain(t, e.send(nobody, nobody, "/invite"), "not registered yet")
	res := e.send(inviter, inviter, "/invite 2 1h")
	code := inviteCode(t, res)
	if len(code) < 22 || len(code) > 64 {
		t.Errorf("code %q: want 22 to 64 characters", code)
	}
	mustContain(t, res, "Invite #1", "lets 2 chats in, until 2026-03-01 13:00 UTC", "?startgroup="+code)
	if other := inviteCode(t, e.send(inviter, inviter, "/invite")); other == code {
		t.Error("two invites share a code")
	}

	res = e.send(stranger, stranger, "/start "+code)
	mustContain(t, res, "The invite of U let this chat in", "Hello, U!")
	if regs.how(stranger) != "invite" || !slices.Equal(regs.subs[stranger], []string{"problem", "recovery"}) {
		t.Errorf("after the invite: %q %v", regs.how(stranger), regs.subs[stranger])
	}
	mustContain(t, e.send(stranger, stranger, "/status"), "pass")
	// Opening it again in a chat that is in takes no use.
	mustContain(t, e.send(stranger, stranger, "/start "+code), "Hello, U!")
	mustContain(t, e.send(strangers, stranger, "/start "+code), "let this chat in")
	mustContain(t, e.send(groupID, stranger, "/start "+code), "has been used up")
	mustContain(t, e.send(groupID, stranger, "/start nonsense"), "This invite link is not valid.")

	late := inviteCode(t, e.send(inviter, inviter, "/invite 30m"))
	e.advance(30 * time.Minute)
	mustContain(t, e.send(groupID, stranger, "/start "+late), "This invite link expired on 2026-03-01 12:30 UTC.")
	if regs.how(groupID) != "" {
		t.Errorf("group registered by a spent or expired invite: %q", regs.how(groupID))
	}

	var audited []string
	for _, a := range e.audit() {
		if strings.Contains(a.Args+a.Detail, code) || strings.Contains(a.Args+a.Detail, late) {
			t.Errorf("the audit log holds a code: %+v", a)
		}
		audited = append(audited, a.Command+" "+a.Outcome+": "+a.Args)
	}
	slices.Reverse(audited)
	want := []string{
		"invite denied: ", "invite allowed: 2 1h", "invite allowed: ",
		"start allowed: invite #1", "start allowed: invite #1",
		"start denied: invite #1", "start denied: invite (unknown code)",
		"invite allowed: 30m", "start denied: invite #3",
	}
	if !slices.Equal(audited, want) {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(audited, "\n"), strings.Join(want, "\n"))
	}
	// The store was given hashes, never a code.
	for _, h := range regs.hashes {
		if bytes.Contains(h, []byte(code)) || len(h) != 32 {
			t.Errorf("stored %x; want a SHA-256", h)
		}
	}
}

func TestParseInvite(t *testing.T) {
	tests := []struct {
		args    string
		uses    int
		ttl     time.Duration
		wantErr string
	}{
		{"", 1, 7 * 24 * time.Hour, ""},
		{"5", 5, 7 * 24 * time.Hour, ""},
		{"5 30d", 5, 30 * 24 * time.Hour, ""},
		{"12h 3", 3, 12 * time.Hour, ""},
		{"0", 0, 0, "1 to 1000 chats, not 0"},
		{"1001", 0, 0, "not 1001"},
		{"2 3", 0, 0, "number of uses once"},
		{"1h 2h", 0, 0, "works once"},
		{"400d", 0, 0, "up to 365 days"},
		{"-1h", 0, 0, "up to 365 days"},
		{"soon", 0, 0, `I do not understand "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			uses, ttl, err := commands.ParseInvite(strings.Fields(tt.args))
			if tt.wantErr != "" {
				msg, ok := commands.AsUser(err)
				if !ok || !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("ParseInvite(%q) error = %v; want a user error with %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || uses != tt.uses || ttl != tt.ttl {
				t.Errorf("ParseInvite(%q) = %d, %s, %v; want %d, %s", tt.args, uses, ttl, err, tt.uses, tt.ttl)
			}
		})
	}
}

// /notify on naming a hook asks with the hook among the request's events (approval would
// subscribe the chat to it, as /notify on would have once it is in); naming only a hook asks
// for only the hook; a hook the chat may not hear is refused before anything is filed.
func TestApprovalRequestCarriesHooks(t *testing.T) {
	e, regs := newRegEnv(t, approvalSpec())
	ctx := context.Background()
	if err := e.st.RegisterHooks(ctx, []store.HookDef{
		{Name: "allure", Kind: hook.KindMessage},
		{Name: "secret", Kind: hook.KindMessage, AllowChats: []int64{admin}},
	}); err != nil {
		t.Fatal(err)
	}
	res := e.send(strangers, stranger, "/notify on hook:allure failure")
	mustContain(t, res, "sent your request")
	if to := repliesTo(res, adminChat); len(to) != 1 || !strings.Contains(to[0].Text, "subscribes it to: failure, hook:allure") {
		t.Errorf("the request the admins read: %+v", to)
	}
	mustContain(t, e.send(stranger, stranger, "/notify on hook:secret"), "This chat may not hear hook secret")
	mustContain(t, e.send(stranger, stranger, "/notify on hook:allure"), "sent your request")
	regs.mu.Lock()
	defer regs.mu.Unlock()
	var got [][]string
	for _, r := range regs.requests {
		got = append(got, r.Events)
	}
	if want := [][]string{{"failure", "hook:allure"}, {"hook:allure"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("requests' events %v, want %v", got, want)
	}
}
