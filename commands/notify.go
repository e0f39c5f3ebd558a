package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/glob"
)

// notifyHelp documents the /notify syntax; ParseNotify is its parser.
const notifyHelp = "/notify shows a keyboard: press an event to turn it on or off here.\n" +
	"/notify on EVENT… turns events on; /notify off EVENT… turns them off; " +
	"<code>all</code> means every event. /notify on alone turns on problem and recovery; " +
	"/notify off alone turns everything off.\n" +
	"Filters: <code>builder=GLOB[,GLOB…]</code> and <code>branch=GLOB[,GLOB…]</code> (e.g. docs-*; " +
	"* matches any characters, / included, so docs-* covers docs-x/arm), " +
	"with on or off, replace this chat's filters; <code>builder=</code> clears one. " +
	"<code>tag=NAME[,NAME…]</code> hears only builders with one of those tags (Buildbot's builder tags); <code>tag=</code> clears it.\n" +
	"Example: <code>/notify on problem recovery builder=docs-* branch=main</code>\n" +
	"/notify list shows what is on.\n" +
	"<code>hook:NAME</code> among the events turns a webhook of herald's config on or off here (/notify on hook:allure).\n" +
	"/notify cards on|off: on (the default) edits a build's start message into its result; off sends a new message.\n" +
	"/notify sound on|off: whether successes make a sound (off by default; problems always do).\n" +
	"/notify mentions on|off: whether problem messages here mention who broke the build (see /iam; off in groups by default, always on in a private chat).\n" +
	"Events: started, finished, success, warnings, failure, exception, cancelled, problem " +
	"(a build broke), recovery (fixed again), worse, better, worker (a worker went missing or came back).\n" +
	"Settings are per chat, and per topic in a forum; in a private chat they are yours."

// NotifyCommand is a parsed /notify.
type NotifyCommand struct {
	Action   string    // "", "list", "on", "off", "cards", "sound" or "mentions"
	Events   []ci.Kind // events named, in ci.Kinds order, no duplicates
	Builders []string  // nil: unchanged; empty: cleared
	Branches []string  // nil: unchanged; empty: cleared
	Tags     []string  // builder tags; nil: unchanged; empty: cleared (notify_tags.go)
	Switch   bool      // for cards, sound and mentions: on or off
	Hooks    []string  // hooks named (hook:NAME), in the order typed, no duplicates
}

// defaultOn is what /notify on turns on without events: what a team wants to hear.
var defaultOn = []ci.Kind{ci.KindProblem, ci.KindRecovery}

// ParseNotify reads /notify's arguments. Errors are chat-safe (HTML-escaped).
func ParseNotify(args []string) (NotifyCommand, error) {
	var nc NotifyCommand
	if len(args) == 0 {
		return nc, nil
	}
	nc.Action = strings.ToLower(args[0])
	switch nc.Action {
	case "list":
		if len(args) > 1 {
			return NotifyCommand{}, Userf("/notify list takes nothing more.")
		}
		return nc, nil
	case "cards", "sound", "mentions":
		if len(args) != 2 || (!strings.EqualFold(args[1], "on") && !strings.EqualFold(args[1], "off")) {
			return NotifyCommand{}, Userf("Use /notify %s on or /notify %s off.", nc.Action, nc.Action)
		}
		nc.Switch = strings.EqualFold(args[1], "on")
		return nc, nil
	case "on", "off":
	default:
		return NotifyCommand{}, Userf("I do not know /notify %s. Use on, off, list, cards, sound or mentions (see /help notify).", args[0])
	}
	named := map[ci.Kind]bool{}
	for _, a := range args[1:] {
		if key, val, ok := strings.Cut(a, "="); ok {
			if k := strings.ToLower(key); k == "tag" || k == "tags" {
				nc.Tags = parseTags(val)
				continue
			}
			globs, err := parseGlobs(val)
			if err != nil {
				return NotifyCommand{}, err
			}
			switch strings.ToLower(key) {
			case "builder", "builders":
				nc.Builders = globs
			case "branch", "branches":
				nc.Branches = globs
			default:
				return NotifyCommand{}, Userf("Unknown filter %s: use builder=, branch= or tag=.", key)
			}
			continue
		}
		if name, ok := cutHook(a); ok {
			if err := validHookName(name); err != nil {
				return NotifyCommand{}, err
			}
			if !slices.Contains(nc.Hooks, name) {
				nc.Hooks = append(nc.Hooks, name)
			}
			continue
		}
		if strings.EqualFold(a, "all") {
			for _, k := range ci.Kinds {
				named[k] = true
			}
			continue
		}
		k, err := ci.ParseKind(strings.ToLower(strings.TrimSuffix(a, ",")))
		if err != nil {
			return NotifyCommand{}, Userf("Unknown event %s. Events: %s.", a, kindList(ci.Kinds))
		}
		named[k] = true
	}
	for _, k := range ci.Kinds {
		if named[k] {
			nc.Events = append(nc.Events, k)
		}
	}
	return nc, nil
}

// parseGlobs reads "a,b" into patterns (ci/glob, as the store matches them: * covers
// slashes too); "" and "*" alone clear the filter.
func parseGlobs(val string) ([]string, error) {
	out := []string{}
	for _, g := range strings.Split(val, ",") {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if err := glob.Validate(g); err != nil {
			msg := g + " is not a valid pattern."
			var bad *glob.Error
			if errors.As(err, &bad) {
				msg += " " + capitalize(bad.Problem) + "."
			}
			return nil, Userf("%s", msg)
		}
		out = append(out, g)
	}
	if len(out) == 1 && out[0] == "*" {
		return []string{}, nil
	}
	return out, nil
}

func kindList(ks []ci.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Notify answers /notify: what this chat (or forum topic) is told about.
func Notify(d Deps) Command {
	return Command{
		Name:    "notify",
		Summary: "notify me about build events",
		Help:    notifyHelp,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if req.Button != nil {
				return d.notifyPress(ctx, req)
			}
			nc, err := ParseNotify(req.Args)
			if err != nil {
				return Response{}, err
			}
			cur, err := d.loadNotify(ctx, req)
			if err != nil {
				return Response{}, err
			}
			switch nc.Action {
			case "":
				return Response{Replies: []Reply{{Text: notifyText(cur, req), Keyboard: notifyKeyboard(cur)}}}, nil
			case "list":
				cards, loud, err := d.Store.ChatStyle(ctx, req.ChatID)
				if err != nil {
					return Response{}, err
				}
				mentions, err := d.mentionsLine(ctx, req)
				if err != nil {
					return Response{}, err
				}
				timely, err := d.timelyLines(ctx, req) // quiet hours, digest, reminders (timely.go)
				if err != nil {
					return Response{}, err
				}
				return Say(notifyText(cur, req) + "\n" + styleText(cards, loud) + mentions + timely), nil
			}
			if why := d.mayNotify(ctx, req); why != "" {
				return Say(Escape(why)), nil
			}
			if nc.Action == "cards" || nc.Action == "sound" {
				return d.setStyle(ctx, req, nc)
			}
			if nc.Action == "mentions" {
				return d.setMentions(ctx, req, nc)
			}
			if nc.Action == "on" {
				why, err := d.mayHearHooks(ctx, req, nc.Hooks)
				if err != nil {
					return Response{}, err
				}
				if why != "" {
					return Say(Escape(why)), nil
				}
			}
			next := cur
			next.hooks = applyHooks(cur.hooks, nc)
			alone := len(nc.Events) == 0 && nc.Builders == nil && nc.Branches == nil && nc.Tags == nil && len(nc.Hooks) == 0
			switch {
			case nc.Action == "on" && alone:
				next.events = union(cur.events, defaultOn)
			case nc.Action == "on":
				next.events = union(cur.events, nc.Events)
			case nc.Action == "off" && alone:
				next.events, next.hooks = nil, nil
			default:
				next.events = slices.DeleteFunc(slices.Clone(cur.events), func(k ci.Kind) bool { return slices.Contains(nc.Events, k) })
			}
			if nc.Builders != nil {
				next.builders = nc.Builders
			}
			if nc.Branches != nil {
				next.branches = nc.Branches
			}
			if nc.Tags != nil {
				if _, ok := d.Store.(TagStore); !ok {
					return Say("Tags are not available here."), nil
				}
				next.tags = nc.Tags
			}
			if err := d.saveNotify(ctx, req, next); err != nil {
				return Response{}, err
			}
			return Say(notifyText(next, req)), nil
		}),
	}
}

type notifySettings struct {
	events             []ci.Kind
	builders, branches []string
	hooks              []string // hook names (stored as hook:NAME among the events)
	tags               []string // builder tags (notify_tags.go)
}

func (d Deps) loadNotify(ctx context.Context, req Request) (notifySettings, error) {
	ev, b, br, err := d.Store.NotifySettings(ctx, req.ChatID, req.ThreadID)
	if err != nil {
		return notifySettings{}, err
	}
	s := notifySettings{builders: b, branches: br}
	if s.tags, err = d.loadTags(ctx, req); err != nil {
		return notifySettings{}, err
	}
	for _, e := range ev {
		if name, ok := cutHook(e); ok {
			s.hooks = append(s.hooks, name)
			continue
		}
		if k, err := ci.ParseKind(e); err == nil {
			s.events = append(s.events, k)
		}
	}
	return s, nil
}

func (d Deps) saveNotify(ctx context.Context, req Request, s notifySettings) error {
	ev := make([]string, 0, len(s.events))
	for _, k := range ci.Kinds { // stored in a stable order
		if slices.Contains(s.events, k) {
			ev = append(ev, string(k))
		}
	}
	for _, h := range s.hooks {
		ev = append(ev, hookPrefix+h)
	}
	if err := d.Store.SetNotifySettings(ctx, req.ChatID, req.ThreadID, ev, s.builders, s.branches); err != nil {
		return err
	}
	return d.saveTags(ctx, req, s.tags)
}

// mayNotify says whether the request may change this chat's settings: "" when it may,
// otherwise why not (plain text). Telegram is asked who administers a group only when the
// admin-only rule is on, and its answer is remembered for a few minutes (see adminCache);
// when it cannot be asked, the user is told so rather than "internal error".
func (d Deps) mayNotify(ctx context.Context, req Request) string {
	if !req.Person() {
		return notPerson(req, "whether you may change this chat's notifications")
	}
	m := d.matrix()
	if req.Private() || !m.NotifyAdminsOnly() {
		return ""
	}
	admin, err := d.chatAdmin(ctx, req.ChatID, req.UserID)
	if err != nil {
		d.Log.Warn().Err(err).Int64("chat_id", req.ChatID).Int64("user_id", req.UserID).Msg("commands: notify: cannot ask Telegram who administers the chat")
		return "I could not ask Telegram whether you administer this chat; try again in a minute."
	}
	if m.MayNotify(true, admin) {
		return ""
	}
	return "Only this group's admins may change its notifications."
}

func union(a, b []ci.Kind) []ci.Kind {
	out := slices.Clone(a)
	for _, k := range b {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func notifyText(s notifySettings, req Request) string {
	where := "this chat"
	switch {
	case req.ThreadID != 0:
		where = "this topic"
	case req.Private():
		where = "you"
	}
	var b strings.Builder
	if len(s.events) == 0 && len(s.hooks) == 0 {
		fmt.Fprintf(&b, "Notifications for %s: none.", where)
	} else if len(s.events) == 0 {
		fmt.Fprintf(&b, "Notifications for %s: no CI events.", where)
	} else {
		var on []ci.Kind
		for _, k := range ci.Kinds {
			if slices.Contains(s.events, k) {
				on = append(on, k)
			}
		}
		fmt.Fprintf(&b, "Notifications for %s: %s.", where, kindList(on))
	}
	if len(s.hooks) > 0 {
		fmt.Fprintf(&b, "\nHooks: <code>%s</code>", Escape(strings.Join(s.hooks, ", ")))
	}
	if len(s.builders) > 0 {
		fmt.Fprintf(&b, "\nOnly builders: <code>%s</code>", Escape(strings.Join(s.builders, ", ")))
	}
	if len(s.branches) > 0 {
		fmt.Fprintf(&b, "\nOnly branches: <code>%s</code>", Escape(strings.Join(s.branches, ", ")))
	}
	if len(s.tags) > 0 {
		fmt.Fprintf(&b, "\nOnly tags: <code>%s</code>", Escape(strings.Join(s.tags, ", ")))
	}
	return b.String()
}

func notifyKeyboard(s notifySettings) [][]Button {
	var kb [][]Button
	var row []Button
	for _, k := range ci.Kinds {
		mark := "▫️ "
		if slices.Contains(s.events, k) {
			mark = "✅ "
		}
		row = append(row, Button{Text: mark + string(k), Data: btn{Act: "toggle", Value: string(k)}.data("notify")})
		if len(row) == 3 {
			kb = append(kb, row)
			row = nil
		}
	}
	if len(row) > 0 {
		kb = append(kb, row)
	}
	return append(kb, []Button{{Text: "Done", Data: btn{Act: "done"}.data("notify")}})
}

// notifyPress toggles one event (redrawing the keyboard in place) or closes the keyboard.
// Settings are the chat's (or topic's), so anyone allowed to change them may press.
func (d Deps) notifyPress(ctx context.Context, req Request) (Response, error) {
	b, err := parseBtn("notify", req.Button.Data)
	if err != nil {
		return badButton(), nil
	}
	cur, err := d.loadNotify(ctx, req)
	if err != nil {
		return Response{}, err
	}
	switch b.Act {
	case "done":
		return Response{Replies: []Reply{{Edit: true, Text: notifyText(cur, req)}}}, nil
	case "toggle":
	default:
		return badButton(), nil
	}
	k, err := ci.ParseKind(b.Value)
	if err != nil {
		return badButton(), nil
	}
	if why := d.mayNotify(ctx, req); why != "" {
		return Response{Notice: why}, nil
	}
	notice := string(k) + " on"
	if slices.Contains(cur.events, k) {
		cur.events = slices.DeleteFunc(cur.events, func(x ci.Kind) bool { return x == k })
		notice = string(k) + " off"
	} else {
		cur.events = append(cur.events, k)
	}
	if err := d.saveNotify(ctx, req, cur); err != nil {
		return Response{}, err
	}
	return Response{Notice: notice, Replies: []Reply{{Edit: true, Text: notifyText(cur, req), Keyboard: notifyKeyboard(cur)}}}, nil
}
