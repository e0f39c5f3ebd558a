package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// ConnKindsOf is NotifyOptions.ConnKind for these providers: which CI each connection is,
// so that a GitHub login is looked for only among a GitHub connection's builds.
func ConnKindsOf(providers []ci.Provider) func(conn string) string {
	kinds := map[string]string{}
	for _, p := range providers {
		kinds[p.Name()] = p.Kind()
	}
	return func(conn string) string { return kinds[conn] }
}

// maxMentions bounds the people one message mentions: a merge of many authors should not
// turn a problem into a roll call.
const maxMentions = 5

// mention is the mentions stage, after the messages are made and before they are queued:
// a problem message gets a line that mentions the Telegram users linked (people:, /iam) to
// the build's author or owner — in a private chat always, in a group or topic only when it
// turned mentions on (/notify mentions on), since a group may not want its members pinged.
// Those messages get a text of their own; the others keep the look's text they share.
//
// msgs are outMessages' result for plan, one per draft in the same order. The links and
// settings are read outside tx: a mention is an addition to a message, and a failure to
// read them must neither hold the message back nor abort the event's transaction, so it
// is logged and the messages go out as they are.
func (n *Notifier) mention(ctx context.Context, ev ci.Event, plan Plan, msgs []store.OutMessage) []store.OutMessage {
	if ev.Build == nil || len(msgs) != len(plan.Drafts) {
		return msgs
	}
	var at []int
	var groups []store.ChatThread
	for i, d := range plan.Drafts {
		if d.Look != ci.KindProblem || d.CardOnly {
			continue
		}
		at = append(at, i)
		if d.ChatID < 0 { // groups, supergroups and channels have negative ids; a private chat is its user's
			groups = append(groups, store.ChatThread{ChatID: d.ChatID, ThreadID: d.ThreadID})
		}
	}
	if len(at) == 0 {
		return msgs
	}
	kind := ""
	if n.opts.ConnKind != nil {
		kind = n.opts.ConnKind(ev.Conn)
	}
	ids := AuthorIdentities(kind, *ev.Build)
	if len(ids) == 0 {
		return msgs
	}
	people, err := n.st.PeopleFor(ctx, ids)
	if err == nil && len(people) > 0 && len(groups) > 0 {
		var on map[store.ChatThread]bool
		if on, err = n.st.MentionsOn(ctx, groups); err == nil {
			at = keepMentioned(at, plan.Drafts, on)
		}
	}
	if err != nil {
		n.log.Error().Err(err).Str("event", ev.Key()).Msg("notify: mentions: links not read; messages sent without them")
		return msgs
	}
	if len(people) == 0 || len(at) == 0 {
		return msgs
	}
	line := MentionLine(people)
	for _, i := range at {
		msgs[i].Text += "\n" + line
		msgs[i].GroupItem = itemWithMention(msgs[i].GroupItem, line)
	}
	return msgs
}

// keepMentioned drops from at the group drafts whose chat did not turn mentions on.
func keepMentioned(at []int, drafts []Draft, on map[store.ChatThread]bool) []int {
	out := at[:0]
	for _, i := range at {
		d := drafts[i]
		if d.ChatID > 0 || on[store.ChatThread{ChatID: d.ChatID, ThreadID: d.ThreadID}] {
			out = append(out, i)
		}
	}
	return out
}

// MentionLine is the line that mentions people: an inline mention (tg://user?id=) notifies
// the user even where they have no @username, and reads as their name.
func MentionLine(people []store.PersonLink) string {
	var names []string
	for i, p := range people {
		if i == maxMentions {
			names = append(names, fmt.Sprintf("and %d more", len(people)-maxMentions))
			break
		}
		name := p.Name
		if name == "" {
			name = p.Identity
		}
		names = append(names, fmt.Sprintf(`<a href="tg://user?id=%d">%s</a>`, p.TelegramID, esc(name, 64)))
	}
	return "🔔 " + strings.Join(names, ", ")
}

// itemWithMention is a group item (group.go) whose line ends in the mention, so that a
// problem told as part of a grouped message still mentions its author. An item that does
// not read as one is left as it is.
func itemWithMention(item, line string) string {
	if item == "" {
		return item
	}
	var it groupItem
	if json.Unmarshal([]byte(item), &it) != nil || it.Line == "" {
		return item
	}
	it.Line += " " + line
	out, err := json.Marshal(it)
	if err != nil {
		return item
	}
	return string(out)
}

// AuthorIdentities are the identities that may name who caused build b on a connection of
// kind (ci.Provider.Kind), the change's author before the build's owner:
//   - an address in either ("Ann <ann@example.com>", as Buildbot and git write authors) on
//     every connection;
//   - on Buildbot, the author or owner as Buildbot spells it;
//   - on GitHub and GitLab, the login the provider reports (the owner is the user who
//     pushed or started the run; GitHub's author may be a login too).
//
// Providers fill what they know: GitHub's Owner is the triggering actor's login and its
// Author the commit author's name; GitLab's Owner the pipeline user's username and its
// Author the commit author's name; Buildbot's Owner the build's owner property; Jenkins's
// Owner the user who started the build. None fills an address into Author today, so email:
// links match where the owner or author is written with one.
func AuthorIdentities(kind string, b ci.Build) []store.Identity {
	var out []store.Identity
	add := func(k, v string) {
		id := store.Identity{Kind: k, Value: v}
		for _, o := range out {
			if o.Kind == k && store.IdentityKey(k, o.Value) == store.IdentityKey(k, v) {
				return
			}
		}
		out = append(out, id)
	}
	for _, who := range []string{b.Author, b.Owner} {
		who = strings.TrimSpace(who)
		if who == "" {
			continue
		}
		if addr := addressIn(who); addr != "" {
			add(store.IdentityEmail, addr)
		}
		switch kind {
		case "buildbot":
			add(store.IdentityBuildbot, who)
		case "github", "gitlab":
			if !strings.ContainsAny(who, " <>@") {
				add(kind, who)
			}
		}
	}
	return out
}

// addressIn is the email address in s ("Ann <ann@example.com>" or a bare address), "" when
// there is none.
func addressIn(s string) string {
	if a, err := mail.ParseAddress(s); err == nil {
		return a.Address
	}
	if i, j := strings.LastIndex(s, "<"), strings.LastIndex(s, ">"); i >= 0 && j > i {
		if a, err := mail.ParseAddress(s[i : j+1]); err == nil {
			return a.Address
		}
	}
	return ""
}
