package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/authz"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// storePeople is the real store as a commands.PeopleStore, converted the way herald's
// wiring does it.
type storePeople struct{ st *store.Store }

func peopleErr(err error) error {
	for from, to := range map[error]error{
		store.ErrNotFound:       commands.ErrNoLink,
		store.ErrLinked:         commands.ErrLinked,
		store.ErrLinkTaken:      commands.ErrLinkTaken,
		store.ErrLinkFromConfig: commands.ErrLinkFromConfig,
	} {
		if errors.Is(err, from) {
			return fmt.Errorf("%w: %w", to, err)
		}
	}
	return err
}

func (p storePeople) RequestLink(ctx context.Context, l commands.PersonLink) (commands.PersonLink, bool, error) {
	got, created, err := p.st.RequestLink(ctx, store.PersonLink(l))
	return commands.PersonLink(got), created, peopleErr(err)
}

func (p storePeople) DecideLink(ctx context.Context, id int64, approve bool, by int64, byName string, at time.Time) (commands.PersonLink, bool, error) {
	got, decided, err := p.st.DecideLink(ctx, id, approve, by, byName, at)
	return commands.PersonLink(got), decided, peopleErr(err)
}

func (p storePeople) UserLinks(ctx context.Context, user int64) ([]commands.PersonLink, error) {
	ls, err := p.st.UserLinks(ctx, user)
	return convLinks(ls), err
}

func (p storePeople) PendingLinks(ctx context.Context, limit int) ([]commands.PersonLink, error) {
	ls, err := p.st.PendingLinks(ctx, limit)
	return convLinks(ls), err
}

func (p storePeople) Unlink(ctx context.Context, user int64, kind, identity string, at time.Time) (commands.PersonLink, error) {
	got, err := p.st.Unlink(ctx, user, kind, identity, at)
	return commands.PersonLink(got), peopleErr(err)
}

func convLinks(ls []store.PersonLink) []commands.PersonLink {
	out := make([]commands.PersonLink, len(ls))
	for i, l := range ls {
		out[i] = commands.PersonLink(l)
	}
	return out
}

// newPeopleEnv is newEnv with /iam and /link, under spec.
func newPeopleEnv(t *testing.T, spec authz.Spec) *env {
	t.Helper()
	e := newEnv(t)
	build := func(gate commands.Gate, d commands.Deps) *commands.Registry {
		reg := commands.NewRegistry(gate)
		commands.Register(reg, d)
		commands.AddPeople(reg, commands.People{Deps: d, Links: storePeople{e.st}})
		return reg
	}
	m, err := authz.Compile(spec, build(nil, e.deps).Known())
	if err != nil {
		t.Fatalf("authz: %v", err)
	}
	e.deps.Authz = func() *authz.Matrix { return m }
	e.reg = build(commands.NewGate(e.deps), e.deps)
	return e
}

// linkSpec lets admin confirm links (the dangerous rule) and nobody else.
func linkSpec() authz.Spec { return testSpec() }

func (e *env) linkedTo(kind, value string) []int64 {
	e.t.Helper()
	got, err := e.st.PeopleFor(context.Background(), []store.Identity{{Kind: kind, Value: value}})
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []int64
	for _, l := range got {
		ids = append(ids, l.TelegramID)
	}
	return ids
}

func TestIamApprovedOnceByWhoMayLink(t *testing.T) {
	e := newPeopleEnv(t, linkSpec())
	asked := e.send(nobody, nobody, "/iam github:Ann")
	mustContain(t, asked, "I asked the admins", "<code>github:ann</code>")
	toAdmin := repliesTo(asked, admin)
	if len(toAdmin) != 1 || len(toAdmin[0].Keyboard) == 0 || !strings.Contains(toAdmin[0].Text, "Link request #") {
		t.Fatalf("the request did not reach admin's private chat with buttons:\n%s", dump(asked))
	}
	if got := e.linkedTo(store.IdentityGitHub, "ann"); got != nil {
		t.Fatalf("linked on the user's word alone: %v", got)
	}
	// Asking again sends nothing new.
	again := e.send(nobody, nobody, "/iam github:ann")
	if len(repliesTo(again, admin)) != 0 {
		t.Fatalf("asking twice sent the admins a second request:\n%s", dump(again))
	}
	mustContain(t, again, "waiting for the admins")
	req := commands.Response{Replies: toAdmin}
	// docsman may not link: the press is refused, audited, and links nothing.
	refused := e.press(admin, docsman, req, "✅ Approve")
	if !strings.Contains(refused.Notice, "may not") || len(refused.Replies) != 0 {
		t.Fatalf("docsman's press = %s; want a refusal", dump(refused))
	}
	if got := e.linkedTo(store.IdentityGitHub, "ann"); got != nil {
		t.Fatalf("a refused press linked %v", got)
	}
	ok := e.press(admin, admin, req, "✅ Approve")
	if ok.Notice != "Approved." {
		t.Fatalf("admin's press = %s", dump(ok))
	}
	told := repliesTo(ok, nobody)
	if len(told) != 1 || !strings.Contains(told[0].Text, "confirmed") {
		t.Fatalf("the user was not told in the chat they asked from:\n%s", dump(ok))
	}
	if got := e.linkedTo(store.IdentityGitHub, "ANN"); len(got) != 1 || got[0] != nobody {
		t.Fatalf("github:ann linked to %v; want [%d]", got, nobody)
	}
	late := e.press(admin, admin, req, "🚫 Deny")
	if !strings.Contains(late.Notice, "Already approved") {
		t.Fatalf("a second press = %s; want it to say it was decided", dump(late))
	}
	mustContain(t, e.send(nobody, nobody, "/iam"), "<code>github:ann</code>", "confirmed by")
	var outcomes []string
	for _, a := range e.audit() {
		if a.Command == authz.Link {
			outcomes = append(outcomes, a.Outcome)
		}
	}
	if strings.Join(outcomes, ",") != "allowed,denied" && strings.Join(outcomes, ",") != "denied,allowed" {
		t.Errorf("audit of link = %v; want docsman's refusal and admin's approval", outcomes)
	}
}

func TestIamDeniedLinksNothing(t *testing.T) {
	e := newPeopleEnv(t, linkSpec())
	asked := e.send(groupID, nobody, "/iam email:Ann@Example.com")
	denied := e.press(admin, admin, commands.Response{Replies: repliesTo(asked, admin)}, "🚫 Deny")
	if denied.Notice != "Denied." {
		t.Fatalf("deny = %s", dump(denied))
	}
	if told := repliesTo(denied, groupID); len(told) != 1 || !strings.Contains(told[0].Text, "declined") {
		t.Fatalf("the group the user asked in was not told:\n%s", dump(denied))
	}
	if got := e.linkedTo(store.IdentityEmail, "ann@example.com"); got != nil {
		t.Fatalf("a denied request linked %v", got)
	}
	mustContain(t, e.send(nobody, nobody, "/iam"), "No CI identity is linked to you")
}

func TestIamNobodyToConfirm(t *testing.T) {
	for name, spec := range map[string]authz.Spec{
		"no rules": {},
		// The admin chat would get the request, but nobody in it could decide.
		"an admin chat, nobody allowed link": {Registration: authz.RegistrationSpec{AdminChat: -4242}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newPeopleEnv(t, spec)
			res := e.send(nobody, nobody, "/iam gitlab:ann")
			mustContain(t, res, "Nobody can confirm links")
			if len(res.Replies) != 1 {
				t.Fatalf("a request went somewhere:\n%s", dump(res))
			}
			if links, _ := e.st.PendingLinks(context.Background(), 10); len(links) != 0 {
				t.Fatalf("a request nobody can decide was filed: %+v", links)
			}
		})
	}
}

func TestIamToAdminChat(t *testing.T) {
	spec := linkSpec()
	spec.Registration = authz.RegistrationSpec{AdminChat: groupID}
	e := newPeopleEnv(t, spec)
	asked := e.send(nobody, nobody, "/iam gitlab:ann")
	if len(repliesTo(asked, groupID)) != 1 || len(repliesTo(asked, admin)) != 0 {
		t.Fatalf("the request did not go to the admin chat alone:\n%s", dump(asked))
	}
	// In the admin chat, only who may link decides.
	req := commands.Response{Replies: repliesTo(asked, groupID)}
	if res := e.press(groupID, docsman, req, "✅ Approve"); !strings.Contains(res.Notice, "may not") {
		t.Fatalf("docsman (in the admin chat, not allowed link) pressed: %s", dump(res))
	}
	if res := e.press(groupID, admin, req, "✅ Approve"); res.Notice != "Approved." {
		t.Fatalf("admin pressed: %s", dump(res))
	}
}

func TestIamOffAndConfigLinks(t *testing.T) {
	e := newPeopleEnv(t, linkSpec())
	ctx := context.Background()
	if err := e.st.SeedPeople(ctx, []store.PersonLink{{TelegramID: nobody, Kind: store.IdentityBuildbot, Identity: "Ann <ann@example.com>"}}, e.now); err != nil {
		t.Fatal(err)
	}
	mustContain(t, e.send(nobody, nobody, "/iam"), "buildbot:Ann &lt;ann@example.com&gt;", "from herald's config")
	mustContain(t, e.send(nobody, nobody, "/iam off buildbot:Ann <ann@example.com>"), "only its admin can take it back")
	mustContain(t, e.send(nobody, nobody, "/iam buildbot:Ann <ann@example.com>"), "linked to you already")
	mustContain(t, e.send(docsman, docsman, "/iam buildbot:Ann <ann@example.com>"), "linked to someone else")

	asked := e.send(nobody, nobody, "/iam github:ann")
	e.press(admin, admin, commands.Response{Replies: repliesTo(asked, admin)}, "✅ Approve")
	mustContain(t, e.send(nobody, nobody, "/iam off github:ANN"), "Unlinked")
	if got := e.linkedTo(store.IdentityGitHub, "ann"); got != nil {
		t.Fatalf("after /iam off github:ann is linked to %v", got)
	}
	mustContain(t, e.send(nobody, nobody, "/iam off github:ann"), "is not linked to you")

	// /link lists what waits, with the buttons again.
	e.send(docsman, docsman, "/iam gitlab:doc")
	list := e.send(admin, admin, "/link")
	mustContain(t, list, "gitlab:doc")
	if !hasKeyboard(list) {
		t.Fatalf("/link has no buttons:\n%s", dump(list))
	}
	mustContain(t, e.send(docsman, docsman, "/link"), "may not use /link")
}

func TestParseIdentity(t *testing.T) {
	for _, tt := range []struct {
		in, kind, value string
		bad             bool
	}{
		{in: "github:ann", kind: "github", value: "ann"},
		{in: "GitHub:@Ann-1", kind: "github", value: "@Ann-1"},
		{in: "gitlab:ann.b_c", kind: "gitlab", value: "ann.b_c"},
		{in: "email:ann@example.com", kind: "email", value: "ann@example.com"},
		{in: "buildbot:Ann <ann@example.com>", kind: "buildbot", value: "Ann <ann@example.com>"},
		{in: "github:ann smith", bad: true},
		{in: "github:-ann", bad: true},
		{in: "email:ann", bad: true},
		{in: "jira:ann", bad: true},
		{in: "ann", bad: true},
		{in: "github:", bad: true},
		{in: "buildbot:a\x00b", bad: true},
	} {
		kind, value, err := commands.ParseIdentity(tt.in)
		if tt.bad {
			if _, ok := commands.AsUser(err); !ok {
				t.Errorf("ParseIdentity(%q) = %s, %s, %v; want a user error", tt.in, kind, value, err)
			}
			continue
		}
		if err != nil || kind != tt.kind || value != tt.value {
			t.Errorf("ParseIdentity(%q) = %q, %q, %v; want %q, %q", tt.in, kind, value, err, tt.kind, tt.value)
		}
	}
}

func TestNotifyMentions(t *testing.T) {
	e := newEnv(t)
	mustContain(t, e.send(groupID, admin, "/notify list"), "Mentions of who broke a build: off")
	mustContain(t, e.send(groupID, admin, "/notify mentions on"), "Mentions on")
	mustContain(t, e.send(groupID, admin, "/notify list"), "Mentions of who broke a build: on")
	if on, err := e.st.Mentions(context.Background(), groupID, 0); err != nil || !on {
		t.Fatalf("stored mentions = %v, %v; want on", on, err)
	}
	mustContain(t, e.send(groupID, admin, "/notify mentions off"), "Mentions off")
	mustContain(t, e.send(groupID, admin, "/notify list"), "Mentions of who broke a build: off")
	mustContain(t, e.send(admin, admin, "/notify mentions off"), "always mention you")
	mustContain(t, e.send(admin, admin, "/notify list"), "Mentions: always")
	if _, err := e.reg.Handle(context.Background(), req(groupID, admin, "/notify mentions maybe")); err == nil {
		t.Error("/notify mentions maybe was taken")
	}
}
