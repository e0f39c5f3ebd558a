package bot

import (
	"slices"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// Draft is one message the plan stage decided on, before any text exists: to whom, how it
// behaves in the chat, and which look of the event it shows. Every draft of an event with
// the same Look gets the same text, rendered once (see Render).
type Draft struct {
	ChatID, ThreadID int64
	// Look is the text the message carries: ci.KindStarted or ci.KindFinished for the plain
	// start or result, a derived kind (problem, recovery, worse, better) for a result with
	// that headline, ci.KindWorker for a worker event.
	Look     ci.Kind
	CardKey  string // see store.OutMessage
	CardOnly bool
	Silent   bool
	// StopButton asks for a ⏹ Stop button under the message: the chat forced this build and
	// is told it started. The button's payload is stored per chat when the draft is queued.
	StopButton bool
	// RerunButton asks for a "Re-run failed jobs" button under the message: it tells of a
	// failure on a connection that can re-run builds. Its payload is stored per chat, for
	// all the event's chats at once, when the drafts are queued.
	RerunButton bool
	// AckButton asks for an Ack button under a problem message, for a chat with reminders
	// on: the quiet stage sets it (notify_quiet.go), the button silences the reminders of
	// this breakage (commands/ack.go).
	AckButton bool
	// Priority, GroupKey, AnchorKey and ReplyToKey: see store.OutMessage. A failure goes
	// ahead of other notifications; a result told as a message of its own may become part of
	// one message with the chat's other results of its class (bad, good, other) arriving in
	// the same window; a problem is the message its recovery will answer.
	Priority   int16
	GroupKey   string
	AnchorKey  string
	ReplyToKey string
}

// Plan is what one event becomes: its drafts, in target order, and the distinct looks they
// use, each to be rendered once however many chats share it.
type Plan struct {
	Drafts []Draft
	Looks  []ci.Kind
	// RerunLabel is the text of the drafts' re-run button: the CI's word for it (see
	// ci.Rebuilder.RebuildLabel); empty is RerunLabel.
	RerunLabel string
}

// PlanEvent is the plan stage: the drafts every target gets for the stored (merged and
// classified) event, grouped by look. It is pure; a 3,000-chat fan-out has 3,000 or more
// drafts and still only a handful of looks. canRerun says the event's connection can re-run
// builds (ci.Rebuilder).
func PlanEvent(ev ci.Event, targets []store.Target, canRerun bool) Plan {
	var p Plan
	for _, t := range targets {
		for _, d := range PlanTarget(ev, t, canRerun) {
			if !slices.Contains(p.Looks, d.Look) {
				p.Looks = append(p.Looks, d.Look)
			}
			p.Drafts = append(p.Drafts, d)
		}
	}
	return p
}

// PlanTarget decides the messages one chat gets for one stored event. It is pure, so every
// case of the card rules is a table test:
//   - started: one message; in card mode "edit" it opens the build's card; a chat that forced
//     the build gets a Stop button under it;
//   - a result: in "edit" mode it edits the card (or is sent new when there is none), and
//     successes are silent unless the chat wants them loud;
//   - problem and recovery are always a new, notifying message; the card, if any, is still
//     brought up to date by a silent edit;
//   - a chat that forced or watches the build gets the result as a new message with sound;
//   - a chat that only subscribes to started has its card updated and hears nothing more;
//   - on a connection that can re-run builds (canRerun), every message that tells of a
//     failure (failed, problem, worse, a watched build's result) gets a Re-run button; the
//     silent update of a card beside such a message does not.
func PlanTarget(ev ci.Event, t store.Target, canRerun bool) []Draft {
	base := Draft{ChatID: t.ChatID, ThreadID: t.ThreadID}
	edit := t.CardMode != "new"
	switch {
	case ev.Worker != nil:
		if len(t.Kinds) == 0 {
			return nil
		}
		d := base
		d.Look = ci.KindWorker
		return []Draft{d}
	case ev.Build == nil:
		return nil
	case ev.Kind == ci.KindStarted:
		if ev.Build.Complete {
			return nil // a late start of a build whose result is already out
		}
		d := base
		d.Look = ci.KindStarted
		if edit {
			d.CardKey = CardKey(ev)
		}
		d.StopButton = t.Watch
		return []Draft{d}
	case ev.Kind != ci.KindFinished:
		return nil
	}
	ds := planResult(ev, t, edit)
	if canRerun && failed(ev.Build.Result) {
		for i := range ds {
			ds[i].RerunButton = !ds[i].CardOnly
		}
	}
	for i := range ds {
		planQuiet(ev, &ds[i])
	}
	return ds
}

// planQuiet sets what the sender needs to send a result at the right time, as one message
// with others, and as an answer to its cause: priority, group and thread.
func planQuiet(ev ci.Event, d *Draft) {
	if failed(ev.Build.Result) {
		d.Priority = store.PriorityProblem
	}
	if d.CardOnly {
		return // a silent edit of a card: never grouped, never a reply
	}
	switch d.Look {
	case ci.KindProblem:
		d.AnchorKey = ThreadKey(ev)
	case ci.KindRecovery:
		d.ReplyToKey = ThreadKey(ev)
	}
	if d.CardKey == "" {
		// A card's message is edited in place by its build's next event: it stays alone.
		d.GroupKey = groupClass(ev.Build.Result)
	}
}

// groupClass is the group a result joins: results of one class read well under one
// headline.
func groupClass(r ci.Result) string {
	switch {
	case failed(r):
		return "bad"
	case r == ci.ResultSuccess:
		return "good"
	}
	return "other"
}

// ThreadKey names a builder and branch: a problem on them is answered by their recovery.
func ThreadKey(ev ci.Event) string {
	if ev.Build == nil {
		return ""
	}
	return ev.Conn + "/" + ev.Build.Builder + "/" + ev.Build.Branch
}

// planResult is PlanTarget for a finished build.
func planResult(ev ci.Event, t store.Target, edit bool) []Draft {
	base := Draft{ChatID: t.ChatID, ThreadID: t.ThreadID}
	card := func() Draft {
		d := base
		d.Look, d.CardKey, d.CardOnly, d.Silent = ci.KindFinished, CardKey(ev), true, true
		return d
	}
	var alert ci.Kind
	for _, k := range []ci.Kind{ci.KindProblem, ci.KindRecovery} {
		if slices.Contains(t.Kinds, k) {
			alert = k
		}
	}
	switch {
	case alert != "":
		d := base
		d.Look = alert
		if edit && t.Started {
			return []Draft{card(), d}
		}
		return []Draft{d}
	case t.Watch:
		// The chat forced or watches this build: it asked to be told, so the result is a
		// new message with sound; a card of the build is still brought up to date.
		d := base
		d.Look = ci.KindFinished
		if edit {
			return []Draft{card(), d}
		}
		return []Draft{d}
	case len(t.Kinds) > 0:
		d := base
		d.Look = ci.KindFinished
		for _, k := range []ci.Kind{ci.KindWorse, ci.KindBetter} {
			if slices.Contains(t.Kinds, k) {
				d.Look = k
			}
		}
		d.Silent = ev.Build.Result == ci.ResultSuccess && !t.LoudSuccess
		if edit {
			d.CardKey = CardKey(ev)
		}
		return []Draft{d}
	case edit && t.Started:
		return []Draft{card()}
	}
	return nil
}

// CardKey names the live build card of a build.
func CardKey(ev ci.Event) string {
	if ev.Build == nil {
		return ""
	}
	return ev.Conn + "/build/" + ev.Build.ID
}
