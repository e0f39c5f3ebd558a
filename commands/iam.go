package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/herald-ci/herald/authz"
)

// People links CI identities (a GitHub or GitLab login, a commit email, a Buildbot author)
// to Telegram users, so that a problem message can mention who broke the build. A user asks
// with /iam github:ann; whoever authz allows link decides with Approve or Deny, because a
// link is never taken on the user's word alone: anyone could claim to be anyone, and have
// someone else's breakages land on them, or theirs on nobody. Links from the config's
// people: are the admin's word and are read-only here.
type People struct {
	Deps
	Links PeopleStore
}

// PeopleStore keeps links and requests (store/people.go).
type PeopleStore interface {
	// RequestLink files a request, or returns the user's waiting one for the same identity
	// (created false). Refusals: ErrLinked, ErrLinkTaken.
	RequestLink(ctx context.Context, l PersonLink) (req PersonLink, created bool, err error)
	// DecideLink decides a waiting request once; decided is false when it was decided
	// before (l says how and by whom). ErrNoLink, ErrLinkTaken.
	DecideLink(ctx context.Context, id int64, approve bool, byUser int64, byName string, at time.Time) (l PersonLink, decided bool, err error)
	UserLinks(ctx context.Context, telegramID int64) ([]PersonLink, error)
	PendingLinks(ctx context.Context, limit int) ([]PersonLink, error)
	// Unlink takes back a link or withdraws a request. ErrNoLink, ErrLinkFromConfig.
	Unlink(ctx context.Context, telegramID int64, kind, identity string, at time.Time) (PersonLink, error)
}

// Errors of a PeopleStore.
var (
	ErrNoLink         = errors.New("commands: no such link")
	ErrLinked         = errors.New("commands: linked already")
	ErrLinkTaken      = errors.New("commands: linked to someone else")
	ErrLinkFromConfig = errors.New("commands: link from the config")
)

// PersonLink is a link or a request for one (the fields of store.PersonLink, so the wiring
// converts one into the other).
type PersonLink struct {
	ID               int64
	TelegramID       int64
	Kind             string
	Identity         string
	Source           string // "config" or "iam"
	Status           string // "pending", "approved", "denied" or "removed"
	Name             string
	ChatID, ThreadID int64
	RequestedAt      time.Time
	DecidedBy        int64
	DecidedByName    string
	DecidedAt        time.Time
}

// The identity kinds, as /iam and the config's people: name them.
const (
	KindGitHub   = "github"
	KindGitLab   = "gitlab"
	KindEmail    = "email"
	KindBuildbot = "buildbot"
)

var (
	githubLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	gitlabLogin = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$`)
	emailAddr   = regexp.MustCompile(`^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$`)
)

// CheckIdentity says what is wrong with an identity of kind, nil when nothing: a GitHub
// login as GitHub allows them, a GitLab username, an address, or a Buildbot author of at
// most 200 printable characters. The message is plain text.
func CheckIdentity(kind, value string) error {
	v := strings.TrimSpace(value)
	switch kind {
	case KindGitHub:
		if !githubLogin.MatchString(strings.TrimPrefix(v, "@")) {
			return Userf("%q is not a GitHub login (letters, digits and -, at most 39).", value)
		}
	case KindGitLab:
		if !gitlabLogin.MatchString(strings.TrimPrefix(v, "@")) {
			return Userf("%q is not a GitLab username.", value)
		}
	case KindEmail:
		v = strings.Trim(strings.TrimPrefix(strings.TrimPrefix(v, "mailto:"), "MAILTO:"), "<>")
		if len(v) > 254 || !emailAddr.MatchString(v) {
			return Userf("%q is not an email address.", value)
		}
	case KindBuildbot:
		if v == "" || len([]rune(v)) > 200 || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			return Userf("A Buildbot author is 1 to 200 printable characters, as Buildbot shows it (Ann <ann@example.com>).")
		}
	default:
		return Userf("%q is not a kind of identity: use github:, gitlab:, email: or buildbot:.", kind)
	}
	return nil
}

// ParseIdentity reads "kind:value" (/iam's argument): github:ann, email:ann@example.com,
// buildbot:Ann <ann@example.com>.
func ParseIdentity(s string) (kind, value string, err error) {
	kind, value, ok := strings.Cut(strings.TrimSpace(s), ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	if !ok || strings.TrimSpace(value) == "" {
		return "", "", Userf("Name the identity as kind:value, e.g. github:ann, gitlab:ann, email:ann@example.com or buildbot:Ann <ann@example.com>.")
	}
	if err := CheckIdentity(kind, value); err != nil {
		return "", "", err
	}
	return kind, strings.TrimSpace(value), nil
}

const iamHelp = "/iam shows the CI identities linked to you: problem messages about builds they broke mention you.\n" +
	"/iam <code>github:LOGIN</code> (or <code>gitlab:LOGIN</code>, <code>email:ADDRESS</code>, " +
	"<code>buildbot:Ann &lt;ann@example.com&gt;</code>) asks the admins to link one to you; " +
	"they confirm with a button, nothing is linked on your word alone.\n" +
	"/iam off <code>KIND:VALUE</code> takes a link back (those from herald's config stay).\n" +
	"In groups a mention needs /notify mentions on; private chats always get it."

// AddPeople puts /iam and /link (the Approve/Deny buttons, and the list of requests that
// wait) into reg.
func AddPeople(reg *Registry, p People) {
	reg.Add(Command{
		Name:    "iam",
		Summary: "link your CI identity to you, for mentions",
		Help:    iamHelp,
		Handler: HandlerFunc(p.iam),
	}, Command{
		Name:      authz.Link,
		Summary:   "list requests to link CI identities",
		Help:      "/link lists the /iam requests waiting, each with Approve and Deny buttons. Those the authz rules allow link decide.",
		Dangerous: true,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				return p.decideLink(ctx, req)
			}
			return p.pendingLinks(ctx)
		}),
	})
}

func (p People) iam(ctx context.Context, req Request) (Response, error) {
	if req.Button != nil {
		return badButton(), nil
	}
	if !req.Person() {
		return Say(Escape(notPerson(req, "who you are"))), nil
	}
	if len(req.Args) == 0 {
		return p.listLinks(ctx, req)
	}
	if strings.EqualFold(req.Args[0], "off") {
		if len(req.Args) == 1 {
			return Response{}, Userf("Name the link to take back: /iam off github:ann.")
		}
		return p.unlink(ctx, req, strings.Join(req.Args[1:], " "))
	}
	return p.ask(ctx, req, strings.Join(req.Args, " "))
}

// identityText is a link as chats show it: github:ann (HTML).
func identityText(kind, identity string) string {
	return "<code>" + Escape(kind+":"+identity) + "</code>"
}

func (p People) listLinks(ctx context.Context, req Request) (Response, error) {
	links, err := p.Links.UserLinks(ctx, req.UserID)
	if err != nil {
		return Response{}, fmt.Errorf("commands: iam: %w", err)
	}
	if len(links) == 0 {
		return Say("No CI identity is linked to you. /iam <code>github:LOGIN</code> (or gitlab:, email:, buildbot:) asks the admins to link one."), nil
	}
	var b strings.Builder
	b.WriteString("Your CI identities:")
	for _, l := range links {
		fmt.Fprintf(&b, "\n• %s", identityText(l.Kind, l.Identity))
		switch {
		case l.Status == "pending":
			fmt.Fprintf(&b, " — waiting for an admin (asked %s)", when(l.RequestedAt))
		case l.Source == "config":
			b.WriteString(" — from herald's config")
		default:
			fmt.Fprintf(&b, " — confirmed by %s", Escape(l.DecidedByName))
		}
	}
	return Say(b.String()), nil
}

// ask files the request and sends it with Approve and Deny buttons to the admin chat, or to
// the private chat of each user a rule allows link. With neither there is nobody to
// confirm, and nothing is filed.
func (p People) ask(ctx context.Context, req Request, arg string) (Response, error) {
	kind, value, err := ParseIdentity(arg)
	if err != nil {
		return Response{}, err
	}
	m := p.matrix()
	targets := m.Linkers()
	if m.AdminChat() != 0 {
		targets = []int64{m.AdminChat()}
	}
	if len(targets) == 0 || !m.AnyoneMayLink() {
		return Say("Nobody can confirm links here: the admin has to allow <code>link</code> to someone in herald's authz."), nil
	}
	name := req.FirstName
	if name == "" {
		name = req.UserName
	}
	l, created, err := p.Links.RequestLink(ctx, PersonLink{TelegramID: req.UserID, Kind: kind, Identity: value,
		Name: name, ChatID: req.ChatID, ThreadID: req.ThreadID, RequestedAt: p.now()})
	switch {
	case errors.Is(err, ErrLinked):
		return Say(identityText(kind, value) + " is linked to you already."), nil
	case errors.Is(err, ErrLinkTaken):
		return Say(identityText(kind, value) + " is linked to someone else. If it is yours, ask an admin."), nil
	case err != nil:
		return Response{}, fmt.Errorf("commands: iam: %w", err)
	case !created:
		return Say(fmt.Sprintf("Your request for %s is waiting for the admins (sent %s).", identityText(l.Kind, l.Identity), when(l.RequestedAt))), nil
	}
	resp := Say("📨 I asked the admins to confirm that " + identityText(l.Kind, l.Identity) + " is you. I will tell you here when they decide.")
	for _, chat := range targets {
		resp.Replies = append(resp.Replies, Reply{ChatID: chat, Text: linkText(l, req.UserName), Keyboard: decisionButtons(authz.Link, l.ID)})
	}
	return resp, nil
}

// linkText is a request as the admins see it.
func linkText(l PersonLink, username string) string {
	return fmt.Sprintf("🔗 <b>Link request #%d</b>\nWho: %s\nSays they are: %s\nWhen: %s\n"+
		"Approving lets herald mention them in problem messages about builds by %s.",
		l.ID, personText(l.Name, username, l.TelegramID), identityText(l.Kind, l.Identity), when(l.RequestedAt),
		identityText(l.Kind, l.Identity))
}

func (p People) unlink(ctx context.Context, req Request, arg string) (Response, error) {
	kind, value, err := ParseIdentity(arg)
	if err != nil {
		return Response{}, err
	}
	l, err := p.Links.Unlink(ctx, req.UserID, kind, value, p.now())
	switch {
	case errors.Is(err, ErrNoLink):
		return Say(identityText(kind, value) + " is not linked to you."), nil
	case errors.Is(err, ErrLinkFromConfig):
		return Say(identityText(l.Kind, l.Identity) + " is linked to you in herald's config: only its admin can take it back."), nil
	case err != nil:
		return Response{}, fmt.Errorf("commands: iam: %w", err)
	}
	if l.Status == "pending" {
		return Say("Withdrawn: your request for " + identityText(l.Kind, l.Identity) + "."), nil
	}
	return Say("Unlinked: problem messages about builds by " + identityText(l.Kind, l.Identity) + " no longer mention you."), nil
}

func (p People) pendingLinks(ctx context.Context) (Response, error) {
	list, err := p.Links.PendingLinks(ctx, pendingLimit+1)
	if err != nil {
		return Response{}, fmt.Errorf("commands: link: %w", err)
	}
	if len(list) == 0 {
		return Say("No link request is waiting."), nil
	}
	var resp Response
	for i, l := range list {
		if i == pendingLimit {
			resp.Replies = append(resp.Replies, Reply{Text: "More are waiting: decide on these first."})
			break
		}
		resp.Replies = append(resp.Replies, Reply{Text: linkText(l, ""), Keyboard: decisionButtons(authz.Link, l.ID)})
	}
	return resp, nil
}

// decideLink is a press of Approve or Deny. The gate has checked the presser against link
// at the moment of pressing; a request is decided once, whoever presses first, and a later
// press says who decided.
func (p People) decideLink(ctx context.Context, req Request) (Response, error) {
	id, approve, verb, ok := parseDecision(req.Button.Data)
	if !ok {
		return badButton(), nil
	}
	args := fmt.Sprintf("%s link request #%d", verb, id)
	if !req.Person() {
		p.audit(ctx, req, authz.Link, args, "", "", auditDenied, notPersonDetail(req))
		return Response{Notice: notPerson(req, "who may confirm links")}, nil
	}
	if !p.matrix().MayLink(req.UserID) {
		p.audit(ctx, req, authz.Link, args, "", "", auditDenied, "you may not use /link")
		return Response{Notice: "You may not confirm links."}, nil
	}
	l, decided, err := p.Links.DecideLink(ctx, id, approve, req.UserID, displayName(req), p.now())
	switch {
	case errors.Is(err, ErrNoLink):
		return Response{Notice: "That request no longer exists."}, nil
	case errors.Is(err, ErrLinkTaken):
		p.audit(ctx, req, authz.Link, args, "", "", auditFailed, "the identity is linked to someone else")
		return Response{Notice: "That identity is linked to someone else now: they (or the config) must give it up first."}, nil
	case err != nil:
		return Response{}, fmt.Errorf("commands: link: %w", err)
	}
	shown := Reply{Edit: true, Text: linkText(l, "") + "\n\n" + linkDecidedText(l)}
	if !decided {
		notice := fmt.Sprintf("Already %s by %s.", l.Status, l.DecidedByName)
		if l.Status == "removed" {
			notice = "That request was withdrawn."
		}
		return Response{Notice: notice, Replies: []Reply{shown}}, nil
	}
	who := fmt.Sprintf("user %d as %s:%s", l.TelegramID, l.Kind, l.Identity)
	told := Reply{ChatID: l.ChatID, ThreadID: l.ThreadID}
	if told.ChatID == 0 {
		told.ChatID = l.TelegramID
	}
	if approve {
		p.audit(ctx, req, authz.Link, args, "", "", auditAllowed, "approved: linked "+who)
		told.Text = "✅ An admin confirmed that " + identityText(l.Kind, l.Identity) + " is you: problem messages about builds it broke mention you."
		return Response{Notice: "Approved.", Replies: []Reply{shown, told}}, nil
	}
	p.audit(ctx, req, authz.Link, args, "", "", auditAllowed, "denied: not linked "+who)
	told.Text = "🚫 An admin declined to link " + identityText(l.Kind, l.Identity) + " to you."
	return Response{Notice: "Denied.", Replies: []Reply{shown, told}}, nil
}

func linkDecidedText(l PersonLink) string {
	switch l.Status {
	case "approved":
		return fmt.Sprintf("✅ Linked by %s, %s.", Escape(l.DecidedByName), when(l.DecidedAt))
	case "denied":
		return fmt.Sprintf("🚫 Denied by %s, %s.", Escape(l.DecidedByName), when(l.DecidedAt))
	}
	return "↩️ Withdrawn, or taken back since."
}
